"""The HTML report: one self-contained file (inline CSS and SVG; no script, font or image from elsewhere).

It opens offline, in any browser, from a mail attachment or a CI artifact.
Built from `crawler.store.reportfacts.collect`'s facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f4f6fa}
header{background:#1d2a44;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c4cde0;font-size:13px}main{padding:20px 28px;max-width:1200px}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
.tile{background:#fff;border-radius:8px;padding:12px 16px;min-width:120px;box-shadow:0 1px 2px #0002}
.tile b{display:block;font-size:26px}.tile span{color:#5b6478;font-size:13px}.tile.bad b{color:#c0392b}
.tile.good b{color:#1e8449}section{background:#fff;border-radius:8px;padding:14px 18px;margin:0 0 16px;
box-shadow:0 1px 2px #0002}h2{font-size:17px;margin:0 0 10px}.charts{display:flex;flex-wrap:wrap;gap:16px}
.charts section{flex:1 1 320px}table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e7ef;vertical-align:top;word-break:break-all}
th{background:#f0f3f8}td.n{text-align:right;white-space:nowrap;word-break:normal}.err{color:#c0392b}
.muted{color:#6b7385}ul{margin:0;padding-left:18px}
"""
_BAR = "#3f6fd8"
_BAR_BAD = "#d0533f"


def render_html(facts: dict[str, Any], title: str) -> str:
    """The report as one HTML document."""
    summary = facts["summary"]
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><header><h1>{escape(title)}</h1>",
             f"<p>{escape(str(summary['first_fetch'] or ''))} to {escape(str(summary['last_fetch'] or ''))}"
             f"{'' if summary['finished'] else ' (the crawl did not finish)'}</p></header><main>",
             _tiles(summary), '<div class="charts">',
             _chart("Status codes", [(str(r["status"] or "none"), r["pages"]) for r in facts["statuses"]],
                    bad=lambda label: not label.startswith("2")),
             _chart("Response times", [(r["bucket"], r["pages"]) for r in facts["response_times"]]),
             _chart("Pages per depth", [(str(r["depth"]), r["pages"]) for r in facts["depths"]]),
             "</div>"]
    if "broken" in facts:
        parts.append(_broken(facts["broken"]))
    parts.append(_table("Hosts", ["host", "pages", "errors", "mean ms"],
                        [[r["host"], r["pages"], r["errors"], r["mean_ms"]] for r in facts["hosts"]]))
    parts.append(_table("Errors by kind", ["kind", "pages"], [[r["kind"], r["pages"]] for r in facts["errors"]]))
    chains = facts["redirects"]
    parts.append(_table(f"Redirect chains ({chains['count']})", ["url", "hops", "final url"],
                        [[c["url"], _list(c["hops"]), c["final_url"]] for c in chains["chains"]], raw=(1,)))
    titles = facts["duplicate_titles"]
    parts.append(_table(f"Duplicate titles ({titles['count']})", ["title", "pages", "urls"],
                        [[t["title"], t["pages"], _list(t["urls"])] for t in titles["titles"]], raw=(2,)))
    parts.append(_table(f"Near-duplicate pages ({len(facts['near_duplicates'])})", ["page", "page", "bits apart"],
                        [[n["a"], n["b"], n["bits"]] for n in facts["near_duplicates"]]))
    orphans = facts["orphans"]
    if orphans["count"]:
        parts.append(_table(f"Sitemap URLs no page links to ({orphans['count']})", ["url"],
                            [[u] for u in orphans["urls"]]))
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _tiles(summary: dict[str, Any]) -> str:
    tiles = [("pages", summary["pages"], ""), ("ok", summary["ok"], "good"),
             ("errors", summary["errors"], "bad" if summary["errors"] else ""),
             ("links", summary["links"], ""), ("hosts", summary["hosts"], ""),
             ("mean ms", summary["mean_ms"], "")]
    if "broken" in summary:
        tiles.insert(1, ("broken links", summary["broken"], "bad" if summary["broken"] else "good"))
        tiles.append(("targets checked", summary["checked_targets"], ""))
    return '<div class="tiles">' + "".join(
        f'<div class="tile {cls}"><b>{escape(str(value))}</b><span>{escape(name)}</span></div>'
        for name, value, cls in tiles) + "</div>"


def _chart(title: str, bars: Sequence[tuple[str, int]], bad: Any = None) -> str:
    """A horizontal bar chart in inline SVG, each bar labelled with its count."""
    height, width, label_w = 22, 420, 110
    top = max((n for _, n in bars), default=0) or 1
    rows = []
    for i, (label, count) in enumerate(bars):
        y = i * height
        length = max(1, round((width - label_w - 60) * count / top)) if count else 0
        color = _BAR_BAD if bad is not None and bad(label) else _BAR
        rows.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>'
                    f'<rect x="{label_w}" y="{y + 3}" width="{length}" height="{height - 7}" fill="{color}" rx="2"/>'
                    f'<text x="{label_w + length + 5}" y="{y + 15}" font-size="12">{count}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" width="{width}" '
           f'height="{max(height, height * len(bars))}" font-family="system-ui,sans-serif">{"".join(rows)}</svg>')
    return f"<section><h2>{escape(title)}</h2>{svg if bars else '<p class=muted>none</p>'}</section>"


def _broken(broken: dict[str, Any]) -> str:
    rows = []
    for item in broken["targets"]:
        shown = item["target"] + (f"#{item['fragment']}" if item["fragment"] else "")
        referrers = "".join(f"<li>{escape(r['source'])} <span class=muted>“{escape(r['text'])}”</span></li>"
                            for r in item["referrers"])
        rows.append(f"<tr><td>{escape(shown)}</td><td class=n>{escape(str(item['status'] or ''))}</td>"
                    f"<td class=err>{escape(item['error'] or '')}</td><td><ul>{referrers}</ul></td></tr>")
    seeds = "".join(f"<p class=err>seed not reachable: {escape(s)}</p>" for s in broken["failed_seeds"])
    more = (f"<p class=muted>{broken['count'] - len(broken['targets'])} more in the links table</p>"
            if broken["count"] > len(broken["targets"]) else "")
    body = ("<table><tr><th>target</th><th>status</th><th>error</th><th>linked from (anchor text)</th></tr>"
            + "".join(rows) + "</table>") if rows else "<p>No broken link.</p>"
    return f"<section><h2>Broken links ({broken['count']})</h2>{seeds}{body}{more}</section>"


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], raw: tuple[int, ...] = ()) -> str:
    if not rows:
        return f"<section><h2>{escape(title)}</h2><p class=muted>none</p></section>"
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = value if i in raw else escape(str(value))
            cells.append(f"<td class=n>{text}</td>" if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<section><h2>{escape(title)}</h2><table><tr>{head}</tr>{''.join(body)}</table></section>"


def _list(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"
