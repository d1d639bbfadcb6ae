"""crawler.cli.configfile and the CLI's --config: TOML keys, types, errors, and command-line precedence."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from crawler.cli.configfile import KEYS, ConfigFileError, read_config_file, to_args
from crawler.cli.main import build_parser, config_file_defaults, config_from_args, parse_args
from crawler.errors import UsageError
from crawler.select import Selector
from crawler.store.seeds import read_seeds
from tests.conftest import ROOT

FULL = """\
seeds = ["http://a.test/", "http://b.test/x"]
output = "pages.csv"
depth = 2
max_pages = 500
scope = "domain"
allow = ["/blog/", "-draft"]
deny = ['\\.pdf$']
workers = 3
concurrency = 8
per_host = 2
delay = 0.5
timeout = 7
retries = 1
max_retry_after = 30.0
max_bytes = 100000
user_agent = "MyBot/1.0"
header = ["Accept-Language: fr"]
no_robots = true
follow_nofollow = false
select = ["h1=h1", "canonical=link[rel=canonical]@href"]
select_all = ["tags=.tag a"]
summary = "run.json"
log_file = "crawl.log"
quiet = true
"""


def write(tmp_path: Path, text: str, name: str = "scrape.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def config_of(*argv: str):
    return config_from_args(parse_args(list(argv)))


# -- the file on its own -----------------------------------------------------------
def test_every_long_option_has_a_key():
    # Keys mirror the long options: a new option must get a key (or be left out here on purpose).
    options = {opt for action in build_parser()._actions for opt in action.option_strings if opt.startswith("--")}
    expected = {opt[2:].replace("-", "_") for opt in options} - {"help", "version", "config"}
    assert set(KEYS) - {"seeds"} == expected


def test_full_file_maps_to_a_config(tmp_path):
    path = write(tmp_path, FULL)
    c = config_of("--config", path)
    assert (c.output, c.depth, c.max_pages, c.scope) == ("pages.csv", 2, 500, "domain")
    assert c.allow == ("/blog/", "-draft")  # a value starting with "-" is a value
    assert c.deny == (r"\.pdf$",)
    assert (c.workers, c.concurrency, c.per_host, c.delay, c.timeout) == (3, 8, 2, 0.5, 7.0)
    assert (c.retries, c.max_retry_after, c.max_bytes, c.user_agent) == (1, 30.0, 100000, "MyBot/1.0")
    assert c.headers == (("Accept-Language", "fr"),)
    assert c.robots is False
    assert c.follow_nofollow is False
    assert c.select == (Selector("h1", "h1"), Selector("canonical", "link[rel=canonical]", "href"),
                        Selector("tags", ".tag a", many=True))
    args = parse_args(["--config", path])
    assert args.seeds == ["http://a.test/", "http://b.test/x"]
    assert (args.summary, args.log_file, args.quiet) == ("run.json", "crawl.log", True)


def test_to_args():
    assert to_args("f", "depth", 2) == ["--depth=2"]
    assert to_args("f", "no_robots", True) == ["--no-robots"]
    assert to_args("f", "no_robots", False) == []
    assert to_args("f", "deny", ["-x", "y"]) == ["--deny=-x", "--deny=y"]
    assert to_args("f", "seeds", ["-", "--odd"]) == ["--", "-", "--odd"]


@pytest.mark.parametrize(("text", "message"), [
    ("dept = 1", "scrape.toml: unknown key 'dept' (did you mean depth?)"),
    ("max-pages = 3", "scrape.toml: unknown key 'max-pages' (keys are snake_case: max_pages)"),
    ("config = 'x.toml'", "scrape.toml: unknown key 'config'"),
    ("depth = '2'", "scrape.toml: depth: expected an integer, got the string '2'"),
    ("depth = true", "scrape.toml: depth: expected an integer, got true (a boolean)"),
    ("depth = 1.5", "scrape.toml: depth: expected an integer, got 1.5 (a number)"),
    ("delay = 'slow'", "scrape.toml: delay: expected a number, got the string 'slow'"),
    ("no_robots = 1", "scrape.toml: no_robots: expected true or false, got 1 (an integer)"),
    ("allow = 'x'", "scrape.toml: allow: expected an array of strings, got the string 'x'"),
    ("allow = ['x', 2]", "scrape.toml: allow: expected an array of strings, got an array with a non-string item"),
    ("[select]\nh1 = 'h1'", "scrape.toml: select: expected an array of strings, got a table"),
    ("output = 3", "scrape.toml: output: expected a string, got 3 (an integer)"),
])
def test_wrong_keys_and_types(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as info:
        read_config_file(path)
    assert str(info.value) == str(tmp_path / message)


@pytest.mark.parametrize(("text", "message"), [
    ("depth = -1", "depth: '-1' is not a whole number >= 0"),
    ("concurrency = 0", "concurrency: '0' is not a whole number from 1 to 10000"),
    ("timeout = 0", "timeout: '0' is not a number of seconds > 0"),
    ("scope = 'world'", "scope: invalid choice: 'world'"),
    ("format = 'xml'", "format: invalid choice: 'xml'"),
    ("select = ['x=a >']", "select 'x=a >': bad CSS selector"),
    ("select = ['h1']", "select 'h1': expected NAME=CSS"),
    ("select = ['url=h1']", "'url' is already a record field"),
    ("select = ['h=h1']\nselect_all = ['h=h2']", "field 'h' is selected twice"),
])
def test_bad_values_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as info:
        config_file_defaults(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigFileError, match="cannot read config file .*missing.toml.*No such file"):
        read_config_file(str(tmp_path / "missing.toml"))
    bad = write(tmp_path, "depth = = 2")
    with pytest.raises(ConfigFileError, match=r"scrape.toml: not valid TOML: .*line 1"):
        read_config_file(bad)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'user_agent = "caf\xe9"')
    with pytest.raises(ConfigFileError, match="latin.toml: not valid TOML"):
        read_config_file(str(latin))
    assert issubclass(ConfigFileError, UsageError)  # exit status 2


def test_empty_file_changes_nothing(tmp_path):
    path = write(tmp_path, "# nothing yet\n")
    assert config_of("--config", path, "http://a.test/") == config_of("http://a.test/")


# -- precedence: the command line wins ------------------------------------------------
def test_command_line_overrides_file_values(tmp_path):
    path = write(tmp_path, FULL)
    c = config_of("--config", path, "-d", "0", "--scope", "host", "-o", "other.jsonl", "-c", "16")
    assert (c.depth, c.scope, c.output, c.concurrency) == (0, "host", "other.jsonl", 16)
    assert c.max_pages == 500  # not on the command line: from the file
    assert c.per_host == 2


def test_command_line_lists_replace_file_lists(tmp_path):
    path = write(tmp_path, FULL)
    c = config_of("--config", path, "--allow", "/news/", "-H", "X-A: 1", "--select-all", "imgs=img@src")
    assert c.allow == ("/news/",)
    assert c.deny == (r"\.pdf$",)  # untouched list: from the file
    assert c.headers == (("X-A", "1"),)
    # --select and --select-all share one list: either replaces all of the file's selectors
    assert c.select == (Selector("imgs", "img", "src", many=True),)


def test_file_format_goes_with_the_file_output(tmp_path):
    path = write(tmp_path, 'output = "pages.dat"\nformat = "csv"\n')
    assert (config_of("--config", path).output, config_of("--config", path).format) == ("pages.dat", "csv")
    # -o on the command line: its own extension decides (or its own --format)
    assert config_of("--config", path, "-o", "x.jsonl").format is None
    assert config_of("--config", path, "-o", "-").format is None
    assert config_of("--config", path, "-o", "x.jsonl", "--format", "json").format == "json"
    # --format alone overrides the file's format for the file's output
    assert config_of("--config", path, "--format", "json").output == "pages.dat"


def test_command_line_seeds_replace_file_seeds(tmp_path):
    path = write(tmp_path, FULL)
    assert parse_args(["--config", path, "http://c.test/"]).seeds == ["http://c.test/"]


def test_config_file_order_does_not_matter_on_the_command_line(tmp_path):
    path = write(tmp_path, FULL)
    assert config_of("-d", "1", "--config", path) == config_of("--config", path, "-d", "1")


def test_select_order_kept_across_select_and_select_all():
    c = config_of("u", "--select-all", "a=p", "--select", "b=h1", "--select-all", "c=li")
    assert [(s.name, s.many) for s in c.select] == [("a", True), ("b", False), ("c", True)]


def test_repeated_parsing_leaves_defaults_alone():
    parser = build_parser()
    parser.parse_args(["u", "--allow", "x", "--select", "a=p"])
    args = parser.parse_args(["u"])
    assert args.allow == []
    assert args.select == []


def test_bad_file_is_a_usage_error_from_main(tmp_path, capsys):
    from crawler.cli.main import main

    path = write(tmp_path, "depth = 'deep'")
    assert main(["--config", path, "http://a.test/"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"crawler: error: {path}: depth: expected an integer, got the string 'deep'"]


# -- the shipped example ---------------------------------------------------------------
def test_shipped_example_parses(monkeypatch):
    monkeypatch.chdir(ROOT)  # paths in a config file are relative to the current directory, as on the CLI
    args = parse_args(["--config", "urls/example.toml"])
    config = config_from_args(args)
    assert args.seeds
    assert read_seeds(args.seeds)
    assert config.select, "the example shows selectors"
    assert any(s.many for s in config.select)
    assert isinstance(args, argparse.Namespace)
    # a complete example: every key, none unknown
    assert {key for key, _ in read_config_file("urls/example.toml")} == set(KEYS)


def test_readme_shows_the_shipped_example():
    example = (ROOT / "urls" / "example.toml").read_text(encoding="utf-8")
    assert f"```toml\n{example}```" in (ROOT / "README.md").read_text(encoding="utf-8")
