"""CSV and JSONL seed files (crawler.store.tables through read_seeds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import CrawlConfig
from crawler.errors import ConfigError, SeedError
from crawler.store.seeds import read_seeds
from crawler.store.tables import SeedInputs


def _read(path: Path, **kwargs: object) -> tuple[list[str], SeedInputs, list[SeedError]]:
    inputs, skipped = SeedInputs(), []
    seeds = read_seeds([str(path)], inputs=inputs, skipped=skipped, **kwargs)  # type: ignore[arg-type]
    return seeds, inputs, skipped


def test_csv_with_a_url_column(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text('\ufeffurl,name\nhttp://a.test/,"A, Inc."\n\nb.test,B\nhttp://a.test/,again\n')
    seeds, inputs, skipped = _read(path, keep_columns=["name"])
    assert seeds == ["http://a.test/", "http://b.test/"]
    assert inputs.fields == ["input_name"]
    assert inputs.by_url["http://a.test/"] == {"input_name": "A, Inc."}  # the first row of a repeated seed
    assert inputs.for_url("http://c.test/") == {"input_name": None}
    assert skipped == []


def test_row_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text('url,note\nhttp://a.test/,"two\nlines"\n,empty\nhttp://b.test/,x,y\n')
    seeds, _, skipped = _read(path)
    assert seeds == ["http://a.test/"]
    assert [str(e).split(": ")[0] for e in skipped] == [f"{path}:4", f"{path}:5"]


def test_file_level_problems_raise(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("link,name\nhttp://a.test/,A\n")
    with pytest.raises(SeedError, match="no 'url' column"):
        _read(path)
    with pytest.raises(SeedError, match="names no column of this file: price"):
        _read(path, url_column="link", keep_columns=["price"])
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(SeedError, match="empty CSV file"):
        _read(tmp_path / "e.csv")


def test_jsonl_every_column(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"u": "http://a.test/", "n": 1}\n{"u": "http://b.test/", "m": {"k": true}}\n')
    seeds, inputs, _ = _read(path, url_column="u", keep_columns=["*"])
    assert seeds == ["http://a.test/", "http://b.test/"]
    assert inputs.fields == ["input_u", "input_n", "input_m"]
    assert inputs.for_url("http://b.test/") == {"input_u": "http://b.test/", "input_n": None,
                                                "input_m": '{"k":true}'}


def test_keep_columns_in_the_config() -> None:
    assert CrawlConfig(keep_columns="a, b").keep_columns == ("a", "b")
    assert CrawlConfig(keep_columns=["*"]).keep_columns == ("*",)
    with pytest.raises(ConfigError, match="give it alone"):
        CrawlConfig(keep_columns="*,a")
