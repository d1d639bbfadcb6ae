"""crawler.engine.backend: how the sinks of a ``--state`` crawl that keeps its link graph are tied."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from crawler.config import CrawlConfig
from crawler.engine.backend import open_backend
from crawler.page import Done, Page, PageResult, Task, encode_edges

SEED = "http://127.0.0.1:9/"


def test_the_link_graph_is_written_before_the_state_commits_the_records_it_holds(tmp_path: Path) -> None:
    # A SIGKILL after the state's commit must not leave records whose links
    # the side file never got (a check going on from there trusts it).
    config = CrawlConfig(state=str(tmp_path / "s.db"), links_db=str(tmp_path / "s.db.links"),
                         output=str(tmp_path / "o.jsonl"), depth=1, check=True)
    backend = open_backend(config, [SEED], multiprocessing.get_context("fork"), lambda: False)
    try:
        task = Task(SEED, 0, None, SEED)
        page = Page(SEED, SEED, 200, True, "text/html", 10, 1.0, 0, title="t", links=1)
        edges = encode_edges([("http://127.0.0.1:9/a", None, "A", "a", False)])
        done = Done(page, task, PageResult(task=task, page=page, links=("http://127.0.0.1:9/a",), edges=edges,
                                           ids="[]"))
        for sink in backend.sinks:
            sink.write(done)
        journal = backend.sinks[0]
        journal.flush()  # type: ignore[attr-defined]  # the state's commit, as its tick makes it
        side = sqlite3.connect(config.links_db or "")
        try:
            assert side.execute("SELECT url, links FROM page_links").fetchall() == [(SEED, edges)]
        finally:
            side.close()
    finally:
        backend.close(False)
