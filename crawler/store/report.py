"""``--report PATH`` (repeatable): the crawl's report, in the format of PATH's extension.

``.html`` (`crawler.store.reporthtml`), ``.md`` (the same facts as Markdown,
for a pull-request comment), ``.json`` (the facts as one object) and
``.xml`` (JUnit: one test case per checked link target, a failure per broken
one with its referrers, streamed from the side file). All are built from the
side file (`crawler.store.linkdb`), in bounded memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

from ..errors import UsageError
from .linkdb import LinkDB, Verdict, judge
from .reportfacts import REFERRERS, collect
from .reporthtml import render_html

FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".json": "json", ".xml": "xml"}


def report_format(path: str) -> str:
    """The report format of ``path``; raises `UsageError` for an unknown extension."""
    kind = FORMATS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise UsageError(f"cannot tell the report format of {path!r}: use .html, .md, .xml or .json")
    return kind


def write_reports(paths: Sequence[str], db: LinkDB, verdict: Verdict, check: bool, title: str) -> None:
    """Write each report of ``paths`` from ``db`` (the facts are gathered once)."""
    facts: dict[str, Any] | None = None
    for path in paths:
        kind = report_format(path)
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                if kind == "xml":
                    write_junit(f, db, verdict, title)
                    continue
                facts = facts if facts is not None else collect(db, verdict, check)
                if kind == "html":
                    f.write(render_html(facts, title))
                elif kind == "md":
                    f.write(render_markdown(facts, title))
                else:
                    json.dump({"title": title, **facts}, f, ensure_ascii=False, indent=1)
                    f.write("\n")
        except OSError as exc:
            raise UsageError(f"cannot write report {path!r}: {exc.strerror or exc}") from None


def render_markdown(facts: dict[str, Any], title: str) -> str:
    """The report's facts as Markdown."""
    s = facts["summary"]
    lines = [f"# {title}", ""]
    tiles = [("pages", s["pages"]), ("ok", s["ok"]), ("errors", s["errors"]), ("links", s["links"]),
             ("hosts", s["hosts"]), ("mean ms", s["mean_ms"])]
    if "broken" in s:
        tiles[1:1] = [("broken links", s["broken"])]
        tiles.append(("targets checked", s["checked_targets"]))
    lines += _md_table(["", *(name for name, _ in tiles)], [["**total**", *(v for _, v in tiles)]])
    if not s["finished"]:
        lines += ["_The crawl did not finish._", ""]
    if "broken" in facts:
        broken = facts["broken"]
        lines += [f"## Broken links ({broken['count']})", ""]
        lines += [f"- seed not reachable: {seed}" for seed in broken["failed_seeds"]]
        for item in broken["targets"]:
            shown = item["target"] + (f"#{item['fragment']}" if item["fragment"] else "")
            lines.append(f"- `{shown}`: {item['error'] or item['status']}")
            lines += [f"  - from {r['source']} (“{_md(r['text'])}”)" for r in item["referrers"]]
        lines.append("")
    lines += ["## Status codes", ""] + _md_table(["status", "pages"],
                                                 [[r["status"] or "none", r["pages"]] for r in facts["statuses"]])
    lines += ["## Response times", ""] + _md_table(["time", "pages"],
                                                   [[r["bucket"], r["pages"]] for r in facts["response_times"]])
    lines += ["## Pages per depth", ""] + _md_table(["depth", "pages"],
                                                    [[r["depth"], r["pages"]] for r in facts["depths"]])
    lines += ["## Hosts", ""] + _md_table(["host", "pages", "errors", "mean ms"],
                                          [[r["host"], r["pages"], r["errors"], r["mean_ms"]] for r in facts["hosts"]])
    lines += ["## Errors by kind", ""] + _md_table(["kind", "pages"],
                                                   [[r["kind"], r["pages"]] for r in facts["errors"]])
    chains = facts["redirects"]
    lines += [f"## Redirect chains ({chains['count']})", ""] + _md_table(
        ["url", "hops", "final url"], [[c["url"], "<br>".join(c["hops"]), c["final_url"]] for c in chains["chains"]])
    titles = facts["duplicate_titles"]
    lines += [f"## Duplicate titles ({titles['count']})", ""] + _md_table(
        ["title", "pages", "urls"], [[t["title"], t["pages"], "<br>".join(t["urls"])] for t in titles["titles"]])
    near = facts["near_duplicates"]
    lines += [f"## Near-duplicate pages ({len(near)})", ""] + _md_table(
        ["page", "page", "bits apart"], [[n["a"], n["b"], n["bits"]] for n in near])
    if facts["orphans"]["count"]:
        lines += [f"## Sitemap URLs no page links to ({facts['orphans']['count']})", ""]
        lines += [f"- {url}" for url in facts["orphans"]["urls"]] + [""]
    return "\n".join(lines)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    if not rows:
        return ["none", ""]
    out = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return [*out, ""]


def _md(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def write_junit(f: TextIO, db: LinkDB, verdict: Verdict, title: str) -> None:
    """JUnit XML: one test case per checked link target, a failure per broken one listing its referrers.

    Written target by target from the side file (one query, ordered by target).
    """
    db.build_edges()
    sql = db.db
    total = failures = 0
    # Counted in a first pass: the testsuite element carries the totals before its cases.
    for url, status, ok, error, soft404, _ in _targets(sql):
        total += 1
        failures += not judge(verdict, url, status, ok, error, soft404, 0, None, 0)[0]
    missing = db.missing_fragments(verdict)
    total += len(missing)
    failures += len(missing)
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    f.write(f"<testsuites name={quoteattr(title)} tests=\"{total}\" failures=\"{failures}\">\n")
    f.write(f"<testsuite name=\"links\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n")
    for url, status, ok, error, soft404, elapsed in _targets(sql):
        good, message = judge(verdict, url, status, ok, error, soft404, 0, None, 0)
        f.write(f"<testcase classname=\"links\" name={quoteattr(url)} time=\"{(elapsed or 0) / 1000:.3f}\"")
        if good:
            f.write("/>\n")
            continue
        referrers = db.referrers(url, limit=REFERRERS)
        detail = "\n".join(f"linked from {source} ({text!r})" for source, text in referrers)
        f.write(f"><failure message={quoteattr(message or f'status {status}')} type=\"broken-link\">"
                f"{escape(detail)}</failure></testcase>\n")
    for entry in missing:
        url, fragment = entry.target, entry.fragment
        referrers = db.referrers(url, fragment, limit=REFERRERS)
        detail = "\n".join(f"linked from {source} ({text!r})" for source, text in referrers)
        f.write(f"<testcase classname=\"links\" name={quoteattr(f'{url}#{fragment}')} time=\"0.000\">"
                f"<failure message={quoteattr(f'fragment: #{fragment} not found')} type=\"broken-link\">"
                f"{escape(detail)}</failure></testcase>\n")
    f.write("</testsuite>\n</testsuites>\n")


def _targets(sql: Any) -> Any:
    # Every target some page links to and the crawl fetched (or refused), in URL order.
    return sql.execute("""SELECT p.url, p.status, p.ok, p.error, p.soft404, p.elapsed_ms
                          FROM page p WHERE EXISTS (SELECT 1 FROM edge e WHERE e.target = p.url)
                          ORDER BY p.url""")
