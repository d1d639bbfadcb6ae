"""crawler.engine.scheduler: dispatch order and politeness gates, driven by a fake clock."""

from __future__ import annotations

from dataclasses import replace

import pytest
from protego import Protego

from crawler.engine.gate import Refusal
from crawler.engine.robots import RobotsRules
from crawler.engine.scheduler import Scheduler
from crawler.page import PAGE, ROBOTS, Task

UA = "crawler/test"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def make(clock, concurrency=16, per_host=4, delay=0.0, robots=False) -> Scheduler:
    return Scheduler(concurrency, per_host, delay, UA, robots=robots, clock=clock)


def task(url: str, depth: int = 0) -> Task:
    return Task(url, depth=depth, seed=url)


def drain(sched: Scheduler, floor: int | None = None, refused: list[Refusal] | None = None) -> list[Task]:
    """Tasks the scheduler lets go now; robots.txt refusals go to ``refused`` (an error if not given)."""
    out = []
    while (t := sched.next_task(floor)) is not None:
        if isinstance(t, Refusal):
            assert refused is not None, f"unexpected refusal {t}"
            refused.append(t)
            continue
        out.append(t)
    return out


def urls(tasks: list[Task]) -> list[str]:
    return [t.url for t in tasks]


# -- robots.txt first -------------------------------------------------------------------------


def test_robots_fetched_first_per_origin(clock):
    sched = make(clock, robots=True)
    sched.add(task("http://a.test/1"))
    sched.add(task("http://a.test/2"))
    sched.add(task("http://b.test:8080/1"))
    first = drain(sched)
    assert [(t.url, t.kind) for t in first] == [
        ("http://a.test/robots.txt", ROBOTS),
        ("http://b.test:8080/robots.txt", ROBOTS),
    ]
    assert sched.next_task(None) is None  # pages wait for their robots.txt
    assert sched.buffered == 3

    sched.done(first[0])
    sched.set_robots("http://a.test", RobotsRules())
    assert urls(drain(sched)) == ["http://a.test/1", "http://a.test/2"]

    sched.done(first[1])
    sched.set_robots("http://b.test:8080", RobotsRules())
    assert urls(drain(sched)) == ["http://b.test:8080/1"]
    assert sched.buffered == 0


def test_robots_fetched_once_per_origin(clock):
    sched = make(clock, robots=True)
    sched.add(task("http://a.test/1"))
    robots = sched.next_task(None)
    assert robots is not None
    assert robots.kind == ROBOTS
    sched.done(robots)
    sched.set_robots("http://a.test", RobotsRules())
    assert urls(drain(sched)) == ["http://a.test/1"]
    sched.add(task("http://a.test/later"))
    assert urls(drain(sched)) == ["http://a.test/later"]  # no second robots.txt


def test_http_and_https_are_separate_origins(clock):
    sched = make(clock, robots=True)
    sched.add(task("http://a.test/1"))
    sched.add(task("https://a.test/1"))
    assert urls(drain(sched)) == ["http://a.test/robots.txt", "https://a.test/robots.txt"]


def test_no_robots_means_no_robots_task(clock):
    sched = make(clock, robots=False)
    sched.add(task("http://a.test/1"))
    t = sched.next_task(None)
    assert t is not None
    assert (t.url, t.kind) == ("http://a.test/1", PAGE)


def test_robots_disallowed_refused(clock):
    sched = make(clock, robots=True)
    sched.add(task("http://a.test/private/x"))
    sched.add(task("http://a.test/public"))
    sched.add(task("http://a.test/private/y", depth=1))
    robots = sched.next_task(None)
    sched.done(robots)
    rules = RobotsRules(Protego.parse("User-agent: *\nDisallow: /private/\n"))
    sched.set_robots("http://a.test", rules)
    refused: list[Refusal] = []
    assert urls(drain(sched, refused=refused)) == ["http://a.test/public"]
    assert [(r.task.url, r.reason, r.error) for r in refused] == [
        ("http://a.test/private/x", "robots", "robots: disallowed"),
        ("http://a.test/private/y", "robots", "robots: disallowed"),
    ]
    assert sched.buffered == 0
    assert sched.inflight == 1
    assert sched.min_depth() == 0  # only the public page, in flight


def test_robots_unavailable_refuses_origin(clock):
    sched = make(clock, robots=True)
    sched.add(task("http://a.test/1"))
    sched.add(task("http://a.test/2"))
    robots = sched.next_task(None)
    sched.done(robots)
    sched.set_robots("http://a.test", RobotsRules(deny_reason="robots: robots.txt unavailable (HTTP 503)"))
    refused: list[Refusal] = []
    assert drain(sched, refused=refused) == []
    assert [r.error for r in refused] == ["robots: robots.txt unavailable (HTTP 503)"] * 2
    assert sched.idle()
    assert sched.min_depth() is None


def test_robots_task_retried_first(clock):
    sched = make(clock, robots=True)
    sched.add(task("http://a.test/1"))
    robots = sched.next_task(None)
    sched.done(robots)
    sched.retry(replace(robots, attempt=robots.attempt + 1), 2.0)
    assert sched.next_task(None) is None
    clock.now += 2.0
    again = sched.next_task(None)
    assert again is not None
    assert (again.url, again.kind) == ("http://a.test/robots.txt", ROBOTS)
    assert sched.next_task(None) is None  # the page still waits for robots.txt
    sched.done(again)
    sched.set_robots("http://a.test", RobotsRules())
    assert urls(drain(sched)) == ["http://a.test/1"]
    assert sched.idle() is False
    sched.done(Task("http://a.test/1"))
    assert sched.idle()


# -- caps ---------------------------------------------------------------------------------------


def test_per_host_cap(clock):
    sched = make(clock, concurrency=100, per_host=2)
    for i in range(5):
        sched.add(task(f"http://a.test/{i}"))
    started = drain(sched)
    assert urls(started) == ["http://a.test/0", "http://a.test/1"]
    assert sched.inflight == 2
    sched.done(started[0])
    assert urls(drain(sched)) == ["http://a.test/2"]
    assert sched.next_task(None) is None


def test_per_host_cap_does_not_block_other_hosts(clock):
    sched = make(clock, concurrency=100, per_host=1)
    for i in range(3):
        sched.add(task(f"http://a.test/{i}"))
    sched.add(task("http://b.test/0"))
    assert urls(drain(sched)) == ["http://a.test/0", "http://b.test/0"]


def test_global_concurrency_cap(clock):
    sched = make(clock, concurrency=3, per_host=10)
    for host in "abcde":
        sched.add(task(f"http://{host}.test/"))
    started = drain(sched)
    assert len(started) == 3
    assert sched.inflight == 3
    assert sched.next_task(None) is None
    sched.done(started[1])
    more = drain(sched)
    assert len(more) == 1
    assert sched.inflight == 3
    assert len({t.url for t in started + more}) == 4


def test_a_released_task_frees_its_request_slot_but_stays_unfinished(clock):
    sched = make(clock, concurrency=2, per_host=1)
    sched.add(task("http://a.test/0"))
    sched.add(task("http://a.test/1", depth=1))
    sched.add(task("http://b.test/0"))
    first, other = drain(sched)
    assert urls([first, other]) == ["http://a.test/0", "http://b.test/0"]
    sched.released(Task("http://a.test/0", seed="http://a.test/0"))  # the result's copy of the task
    sched.released(first)  # twice changes nothing
    assert sched.fetching == 1
    assert urls(drain(sched)) == ["http://a.test/1"]  # the host's one slot, the crawl's second
    assert sched.next_task(None) is None
    assert sched.inflight == 3  # the released page is parsed yet: not done
    assert sched.min_depth() == 0
    sched.done(Task("http://a.test/0", seed="http://a.test/0"))
    assert (sched.inflight, sched.fetching) == (2, 2)  # its slot was freed once, not twice
    sched.done(other)  # never released: done frees its slot
    assert (sched.inflight, sched.fetching) == (1, 1)
    assert sched.min_depth() == 1
    assert not sched.idle()


def test_robots_task_counts_against_caps(clock):
    sched = make(clock, concurrency=1, robots=True)
    sched.add(task("http://a.test/1"))
    sched.add(task("http://b.test/1"))
    assert urls(drain(sched)) == ["http://a.test/robots.txt"]


# -- fairness ---------------------------------------------------------------------------------------


def test_round_robin_between_hosts(clock):
    sched = make(clock, concurrency=100, per_host=100)
    for host in "abc":
        for i in range(3):
            sched.add(task(f"http://{host}.test/{i}"))
    order = [t.url.split("/")[2][0] + t.url[-1] for t in drain(sched)]
    assert order == ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]


def test_round_robin_with_unequal_queues(clock):
    sched = make(clock, concurrency=100, per_host=100)
    for i in range(4):
        sched.add(task(f"http://big.test/{i}"))
    sched.add(task("http://small.test/0"))
    order = urls(drain(sched))
    assert order[:2] == ["http://big.test/0", "http://small.test/0"]
    assert order[2:] == ["http://big.test/1", "http://big.test/2", "http://big.test/3"]


def test_fifo_within_a_host(clock):
    sched = make(clock)
    for i in range(4):
        sched.add(task(f"http://a.test/{i}"))
    assert urls(drain(sched)) == [f"http://a.test/{i}" for i in range(4)]


# -- delay --------------------------------------------------------------------------------------------


def test_delay_spacing(clock):
    sched = make(clock, delay=2.0)
    for i in range(3):
        sched.add(task(f"http://a.test/{i}"))
    assert urls(drain(sched)) == ["http://a.test/0"]
    assert sched.next_wakeup() == pytest.approx(2.0)
    clock.now += 1.5
    assert sched.next_task(None) is None
    assert sched.next_wakeup() == pytest.approx(0.5)
    clock.now += 0.5
    assert urls(drain(sched)) == ["http://a.test/1"]
    assert sched.next_wakeup() == pytest.approx(2.0)
    clock.now += 2.0
    assert urls(drain(sched)) == ["http://a.test/2"]
    assert sched.next_wakeup() is None  # nothing left to wait for


def test_delay_is_per_host(clock):
    sched = make(clock, delay=5.0)
    sched.add(task("http://a.test/0"))
    sched.add(task("http://a.test/1"))
    sched.add(task("http://b.test/0"))
    sched.add(task("http://b.test/1"))
    assert urls(drain(sched)) == ["http://a.test/0", "http://b.test/0"]
    clock.now += 5.0
    assert urls(drain(sched)) == ["http://a.test/1", "http://b.test/1"]


def test_no_delay_no_wakeup(clock):
    sched = make(clock, per_host=1)
    sched.add(task("http://a.test/0"))
    sched.add(task("http://a.test/1"))
    drain(sched)
    assert sched.next_wakeup() is None  # waiting on the per-host cap, not on time


def test_robots_crawl_delay_wins_if_larger(clock):
    sched = make(clock, delay=1.0, robots=True)
    for i in range(2):
        sched.add(task(f"http://a.test/{i}"))
    robots = sched.next_task(None)
    sched.done(robots)
    sched.set_robots("http://a.test", RobotsRules(Protego.parse("User-agent: *\nCrawl-delay: 4\n")))
    assert sched.next_task(None) is None  # --delay spaces the robots.txt request from the first page too
    clock.now += 1.0
    assert urls(drain(sched)) == ["http://a.test/0"]
    clock.now += 1.0
    assert sched.next_task(None) is None
    assert sched.next_wakeup() == pytest.approx(3.0)
    clock.now += 3.0
    assert urls(drain(sched)) == ["http://a.test/1"]


def test_delay_wins_over_smaller_crawl_delay(clock):
    sched = make(clock, delay=3.0, robots=True)
    for i in range(2):
        sched.add(task(f"http://a.test/{i}"))
    robots = sched.next_task(None)
    sched.done(robots)
    clock.now += 3.0
    sched.set_robots("http://a.test", RobotsRules(Protego.parse("User-agent: *\nCrawl-delay: 1\n")))
    assert urls(drain(sched)) == ["http://a.test/0"]
    clock.now += 1.0
    assert sched.next_task(None) is None
    clock.now += 2.0
    assert urls(drain(sched)) == ["http://a.test/1"]


# -- depth gate ----------------------------------------------------------------------------------------


def test_depth_gate(clock):
    sched = make(clock)
    sched.add(task("http://a.test/d0", depth=0))
    sched.add(task("http://b.test/d2", depth=2))
    sched.add(task("http://c.test/d1", depth=1))
    assert sched.min_depth() == 0
    first = sched.next_task(sched.min_depth())
    assert first is not None
    assert first.url == "http://a.test/d0"
    # depth 0 is in flight: depth 1 may go, depth 2 waits
    assert urls(drain(sched, sched.min_depth())) == ["http://c.test/d1"]
    assert sched.min_depth() == 0
    sched.done(first)
    assert sched.min_depth() == 1
    assert urls(drain(sched, sched.min_depth())) == ["http://b.test/d2"]


def test_depth_gate_uses_the_floor_given(clock):
    # the caller's floor includes the frontier: a shallow task still queued there holds deep ones back
    sched = make(clock)
    sched.add(task("http://a.test/d3", depth=3))
    assert sched.next_task(1) is None
    t = sched.next_task(2)
    assert t is not None
    assert t.url == "http://a.test/d3"


def test_no_floor_no_gate(clock):
    sched = make(clock)
    sched.add(task("http://a.test/d9", depth=9))
    assert urls(drain(sched, None)) == ["http://a.test/d9"]


def test_min_depth_tracks_buffered_and_inflight(clock):
    sched = make(clock)
    assert sched.min_depth() is None
    sched.add(task("http://a.test/x", depth=2))
    sched.add(task("http://b.test/y", depth=1))
    assert sched.min_depth() == 1
    started = drain(sched)
    assert sched.min_depth() == 1
    for t in started:
        if t.depth == 1:
            sched.done(t)
    assert sched.min_depth() == 2


# -- retry ----------------------------------------------------------------------------------------------


def test_retry_pauses_host(clock):
    sched = make(clock)
    sched.add(task("http://a.test/1"))
    sched.add(task("http://a.test/2"))
    sched.add(task("http://b.test/1"))
    first = sched.next_task(None)
    assert first is not None
    assert first.url == "http://a.test/1"
    sched.done(first)
    sched.retry(replace(first, attempt=first.attempt + 1), 3.0)
    # a.test is paused (its other task too); b.test is not
    assert urls(drain(sched)) == ["http://b.test/1"]
    assert sched.next_wakeup() == pytest.approx(3.0)
    clock.now += 2.9
    assert sched.next_task(None) is None
    clock.now += 0.1
    again = drain(sched)
    assert urls(again) == ["http://a.test/1", "http://a.test/2"]  # the retried task goes first
    assert again[0].attempt == 1


def test_retry_keeps_counts(clock):
    sched = make(clock)
    sched.add(task("http://a.test/1", depth=1))
    t = sched.next_task(None)
    sched.done(t)
    assert sched.idle()
    assert sched.min_depth() is None
    sched.retry(t, 1.0)
    assert not sched.idle()
    assert sched.buffered == 1
    assert sched.min_depth() == 1
    clock.now += 1.0
    t2 = sched.next_task(None)
    assert t2 is t
    sched.done(t2)
    assert sched.idle()


def test_idle(clock):
    sched = make(clock)
    assert sched.idle()
    sched.add(task("http://a.test/"))
    assert not sched.idle()
    t = sched.next_task(None)
    assert not sched.idle()
    sched.done(t)
    assert sched.idle()


def test_throttled_host_halves_then_grows_back(clock):
    from crawler.engine.scheduler import GROW_AFTER

    sched = make(clock, per_host=8)
    for i in range(40):
        sched.add(task(f"http://a.test/{i}"))
    sched.add(task("http://b.test/x"))
    origin = "http://a.test"
    sched.throttled(origin)
    assert sched.hosts[origin].limit == 8  # one 429 is not a pattern
    sched.throttled(origin)
    assert sched.hosts[origin].limit == 4
    sched.throttled(origin)
    sched.throttled(origin)
    sched.throttled(origin)
    assert sched.hosts[origin].limit == 1  # never below one
    started = drain(sched)
    assert sum(t.url.startswith(origin) for t in started) == 1
    assert "http://b.test/x" in urls(started)  # the other host is not held back
    for _ in range(GROW_AFTER):
        sched.succeeded(origin)
    assert sched.hosts[origin].limit == 2
    for _ in range(GROW_AFTER * 10):
        sched.succeeded(origin)
    assert sched.hosts[origin].limit == 8  # back to --per-host, never above


def test_pages_of_a_host_wait_for_its_sitemaps():
    from crawler.page import SITEMAP

    sched = Scheduler(8, 4, 0.0, "crawler/1", robots=False)
    sched.add(Task("http://a.test/page", 0))
    sched.add(Task("http://a.test/sitemap.xml", 0, kind=SITEMAP))
    sitemap = sched.next_task(0)
    assert sitemap is not None
    assert sitemap.kind == SITEMAP
    assert sched.next_task(0) is None, "the page waits while the sitemap is read"
    sched.done(sitemap)
    page = sched.next_task(0)
    assert page is not None
    assert page.url == "http://a.test/page"


# -- per-host settings (config file [hosts."NAME"]) -------------------------------------------
def test_a_hosts_own_slots_and_delay(clock):
    from crawler.config import HostSettings

    sched = Scheduler(16, 4, 0.0, UA, robots=False, clock=clock,
                      hosts={"slow.test": HostSettings(per_host=1, delay=2.0)})
    for i in range(3):
        sched.add(task(f"http://slow.test/{i}"))
        sched.add(task(f"http://fast.test/{i}"))
    first = drain(sched)
    assert sorted(urls(first)) == ["http://fast.test/0", "http://fast.test/1", "http://fast.test/2",
                                   "http://slow.test/0"]
    sched.released(next(t for t in first if t.url.startswith("http://slow")))
    assert drain(sched) == []  # a slot, but not yet 2 s
    clock.now += 2.0
    assert urls(drain(sched)) == ["http://slow.test/1"]


def test_a_hosts_robots_txt_is_read_for_its_own_agent(clock):
    from crawler.config import HostSettings

    sched = Scheduler(16, 4, 0.0, UA, robots=True, clock=clock,
                      hosts={"a.test": HostSettings(user_agent="other-bot")})
    sched.add(task("http://a.test/x"))
    [robots] = drain(sched)
    rules = RobotsRules(Protego.parse("User-agent: other-bot\nCrawl-delay: 3\n"))
    sched.set_robots("http://a.test", rules)
    assert sched.hosts["http://a.test"].delay == 3


class KeepingGate:
    """A `HostGate` that grants every slot and says which origins have one kept for reuse."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.settled = 0

    def acquire(self, origin: str, task: Task, limit: int, delay: float) -> float:
        return 0.0

    def release(self, origin: str, task: Task) -> None:
        self.kept.append(origin)

    def settle(self) -> None:
        self.settled += 1
        self.kept.clear()

    def spare(self) -> list[str]:
        return list(self.kept)


def test_a_host_whose_slot_the_gate_kept_goes_first_and_the_rest_are_settled(clock):
    gate = KeepingGate()
    sched = Scheduler(2, 2, 0.0, UA, robots=False, clock=clock, gate=gate)
    for url in ("http://a.test/1", "http://b.test/1", "http://a.test/2", "http://b.test/2"):
        sched.add(task(url))
    first = sched.next_task(None)
    second = sched.next_task(None)
    assert [first.url, second.url] == ["http://a.test/1", "http://b.test/1"]
    assert sched.next_task(None) is None
    assert gate.settled == 1  # nothing more may go: the gate gives back what it kept
    sched.released(second)  # b's slot is kept for b's next request
    assert sched.next_task(None).url == "http://b.test/2"  # before a, whose turn it was
