"""Every optional field group at once lands in SPEC's order: SEO, input_*, Markdown, then selectors."""

from __future__ import annotations

from pathlib import Path

from crawler.page import RECORD_FIELDS, SEO_FIELDS
from tests.conftest import read_output, run_cli


def test_seo_inputs_markdown_and_selectors_in_spec_order(site, tmp_path: Path) -> None:  # noqa: ANN001 - fixture
    seeds = tmp_path / "seeds.csv"
    seeds.write_text(f"url,team\n{site.url('/')},blue\n{site.url('/a')},red\n", encoding="utf-8")
    for suffix in ("jsonl", "csv"):
        out = tmp_path / f"out.{suffix}"
        result = run_cli(seeds, "-d", 1, "--no-robots", "-o", out, "--seo", "--keep-columns", "team",
                         "--markdown", "--markdown-dir", tmp_path / f"md-{suffix}", "--select", "h=title", timeout=60)
        assert result.returncode == 0, result.stderr
        records = read_output(out)
        expected = [*RECORD_FIELDS, *SEO_FIELDS, "input_team", "markdown", "markdown_file", "h"]
        for record in records:
            assert list(record) == expected, record
        teams = {r["url"]: r["input_team"] for r in records}
        assert teams[site.url("/")] == "blue"
        assert teams[site.url("/a")] == "red"
        assert any(r["input_team"] in (None, "") for r in records)  # pages found by crawling
