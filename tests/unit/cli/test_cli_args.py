"""crawler.cli.main: argument parsing, the mapping to CrawlConfig, and usage errors (exit 2)."""

from __future__ import annotations

import os

import pytest

from crawler import __version__
from crawler.cli.main import build_parser, config_from_args, main
from crawler.config import CrawlConfig
from crawler.errors import UsageError


def config_of(*argv: str) -> CrawlConfig:
    return config_from_args(build_parser().parse_args(list(argv)))


def test_defaults():
    args = build_parser().parse_args(["http://a.test/"])
    assert args.seeds == ["http://a.test/"]
    assert args.output == "-"
    c = config_from_args(args)
    default = CrawlConfig()
    assert c.depth == default.depth == 0
    assert c.scope == "host"
    assert c.concurrency == 16
    assert c.per_host == 4
    assert c.delay == 0
    assert c.timeout == 20
    assert c.retries == 2
    assert c.max_bytes == 10 * 1024 * 1024
    assert c.max_pages is None
    assert c.robots is True
    assert c.user_agent == f"crawler/{__version__}"
    assert c.workers == (os.cpu_count() or 1)
    assert c.allow == ()
    assert c.deny == ()
    assert c.headers == ()
    assert c.output == "-"
    assert c.format is None


def test_every_option_mapped():
    c = config_of(
        "seeds.txt", "-o", "out.csv", "--format", "json", "-d", "2", "--max-pages", "50",
        "--scope", "domain", "--allow", "/blog/", "--allow", "/news/", "--deny", r"\.pdf$",
        "-w", "3", "-c", "8", "--per-host", "2", "--delay", "0.5", "--timeout", "7.5",
        "--retries", "1", "--max-bytes", "1000", "--user-agent", "MyBot/1.0",
        "-H", "X-Token: abc", "--header", "Accept-Language:fr", "--no-robots", "--max-retry-after", "30",
    )
    assert c.output == "out.csv"
    assert c.format == "json"
    assert c.depth == 2
    assert c.max_pages == 50
    assert c.scope == "domain"
    assert c.allow == ("/blog/", "/news/")
    assert c.deny == (r"\.pdf$",)
    assert c.workers == 3
    assert c.concurrency == 8
    assert c.per_host == 2
    assert c.delay == 0.5
    assert c.timeout == 7.5
    assert c.retries == 1
    assert c.max_bytes == 1000
    assert c.user_agent == "MyBot/1.0"
    assert c.headers == (("X-Token", "abc"), ("Accept-Language", "fr"))
    assert c.robots is False
    assert c.max_retry_after == 30


def test_long_option_spellings():
    c = config_of("u", "--output", "x.jsonl", "--depth", "1", "--workers", "2", "--concurrency", "4")
    assert (c.output, c.depth, c.workers, c.concurrency) == ("x.jsonl", 1, 2, 4)


def test_format_from_extension_or_override():
    assert config_of("u", "-o", "out.txt", "--format", "csv").format == "csv"
    with pytest.raises(UsageError):
        config_of("u", "-o", "out.txt")


def test_header_value_may_contain_colons():
    assert config_of("u", "-H", "Referer: http://x.test:8080/").headers == (("Referer", "http://x.test:8080/"),)


@pytest.mark.parametrize("header", ["no-colon", ": value-only"])
def test_bad_header_is_usage_error(header):
    with pytest.raises(UsageError):
        config_of("u", "-H", header)


def test_quiet_and_progress_flags_parse():
    args = build_parser().parse_args(["u", "-q", "--no-progress"])
    assert args.quiet is True
    assert args.no_progress is True


def test_several_seeds():
    assert build_parser().parse_args(["a.txt", "-", "http://x.test/"]).seeds == ["a.txt", "-", "http://x.test/"]


# -- bad usage: exit 2, one line on stderr -------------------------------------------------------------


def assert_one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    err = captured.err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("crawler: error:"), err
    assert "Traceback" not in err
    assert captured.out == ""
    return lines[0]


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return exc.code  # type: ignore[return-value]


@pytest.mark.parametrize("argv", [
    ["--depth", "-1", "http://a.test/"],
    ["--depth", "two", "http://a.test/"],
    ["-c", "0", "http://a.test/"],
    ["--per-host", "0", "http://a.test/"],
    ["--workers", "-2", "http://a.test/"],
    ["--max-pages", "0", "http://a.test/"],
    ["--timeout", "0", "http://a.test/"],
    ["--timeout", "nan", "http://a.test/"],
    ["--delay", "-1", "http://a.test/"],
    ["--retries", "1.5", "http://a.test/"],
    ["--scope", "world", "http://a.test/"],
    ["--format", "xml", "http://a.test/"],
    ["--no-such-option", "http://a.test/"],
    ["--depth"],
])
def test_argparse_errors_exit_2(argv, capsys):
    assert exit_code(argv) == 2
    assert_one_line_error(capsys)


@pytest.mark.parametrize("argv", [
    [],  # no seed
    ["-o", "out.txt", "http://a.test/"],  # unknown output extension
    ["-H", "no-colon", "http://a.test/"],
    ["--allow", "(", "http://a.test/"],
    ["--deny", "[z-a]", "http://a.test/"],
    ["ftp://a.test/"],
])
def test_usage_errors_exit_2(argv, capsys):
    assert exit_code(argv) == 2
    assert_one_line_error(capsys)


def test_bad_seed_files_exit_2(tmp_path, capsys):
    missing = str(tmp_path / "missing.txt")
    assert exit_code([missing]) == 2
    assert missing in assert_one_line_error(capsys)

    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    assert exit_code([str(empty)]) == 2
    assert_one_line_error(capsys)

    bad = tmp_path / "bad.txt"
    bad.write_text("http://a.test/\nmailto:x@y.test\n", encoding="utf-8")
    assert exit_code([str(bad), "--strict"]) == 2
    assert f"{bad}:2" in assert_one_line_error(capsys)

    all_bad = tmp_path / "all-bad.txt"
    all_bad.write_text("mailto:x@y.test\n", encoding="utf-8")
    assert exit_code([str(all_bad)]) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"crawler: warning: {all_bad}:1: ")
    assert "skipped" in warning
    assert error.startswith("crawler: error: no seed URLs given")

    assert exit_code([str(tmp_path)]) == 2
    assert_one_line_error(capsys)


def test_unwritable_output_exit_2(tmp_path, capsys, monkeypatch):
    # fails when the writer opens, before any fetch; no manager/pool is needed to see it
    out = str(tmp_path / "no" / "dir" / "out.jsonl")
    monkeypatch.setattr("crawler.engine.backend.start_manager", _no_manager)
    assert exit_code(["-o", out, "-q", "http://a.test/"]) == 2
    assert_one_line_error(capsys)


class _FakeManager:
    def shutdown(self) -> None:
        pass


def _no_manager(ctx):
    return _FakeManager()


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"crawler {__version__}"


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--output", "--format", "--depth", "--max-pages", "--scope", "--allow", "--deny", "--workers",
                   "--concurrency", "--per-host", "--delay", "--timeout", "--retries", "--max-bytes",
                   "--user-agent", "--header", "--no-robots", "--quiet", "--no-progress"):
        assert option in out


GROUPS = ("input", "crawl scope", "politeness", "output", "state", "distributed", "extraction",
          "site check and reports", "network")


def _help_sections(capsys) -> dict[str, list[str]]:
    import re

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    sections: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        heading = re.fullmatch(r"([a-z][a-z ]*):", line)
        if heading:
            current = heading.group(1)
            sections[current] = []
        elif current and (match := re.match(r"  (-\w(?: [^,]+)?, )?(--[\w-]+|SEED)", line)):
            sections[current].append(match.group(2))
    return sections


def test_help_in_groups(capsys):
    # issue 16: options grouped where a user would look for them
    sections = _help_sections(capsys)
    assert [name for name in sections if name != "options"] == list(GROUPS)
    assert sections["options"] == ["--help", "--version"]  # every other option is in a group
    expected = {
        "input": {"SEED", "--config", "--strict"},
        "crawl scope": {"--depth", "--max-pages", "--scope", "--allow", "--deny", "--sitemaps"},
        "politeness": {"--per-host", "--delay", "--no-robots"},
        "output": {"--output", "--format", "--summary", "--log-file", "--quiet"},
        "state": {"--state", "--changed-only", "--recrawl-after"},
        "distributed": {"--redis", "--crawl-id", "--node"},
        "extraction": {"--select", "--select-all", "--seo"},
        "site check and reports": {"--links", "--check-assets", "--ignore", "--accept"},
        "network": {"--workers", "--concurrency", "--timeout", "--retries", "--user-agent", "--header"},
    }
    for group, options in expected.items():
        assert options <= set(sections[group]), (group, sections[group])
    every = [option for options in sections.values() for option in options]
    assert len(every) == len(set(every))
