"""The facts a report shows, read from the crawl's side file (`crawler.store.linkdb`) by SQL.

Every figure is an aggregate SQLite computes on disk, and every list is cut
at `ROWS` (its full length given beside it), so a 100,000-page crawl with 5
million links reports in a few MB of memory. The renderers
(`crawler.store.reporthtml`, `crawler.store.reporttext`) only format these.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from .linkdb import LinkDB, Verdict

#: Rows kept per list (the totals are counted in full).
ROWS = 100
#: Referrers kept per broken target.
REFERRERS = 20
#: SimHash bits within which two pages are near-duplicates.
NEAR_BITS = 6
#: Pages compared pairwise per shared SimHash band (a band shared by more is a template, not a duplicate).
BAND_GROUP_MAX = 200
#: A page compared for duplicates: not a redirect whose target is a page of the crawl too (the same page twice).
_DISTINCT = "(p.url = p.final_url OR NOT EXISTS (SELECT 1 FROM page q WHERE q.url = p.final_url))"
#: Upper bounds (ms) of the response-time histogram's buckets; the last is open.
TIME_BUCKETS = (50, 100, 250, 500, 1000, 2500, 5000)


def collect(db: LinkDB, verdict: Verdict, check: bool) -> dict[str, Any]:
    """Every fact of the report, as a JSON-ready dict."""
    db.build_edges()
    sql = db.db
    pages = "kind = 'page'"
    one = _one(sql, f"""SELECT COUNT(*), SUM(ok), SUM(error IS NOT NULL), SUM(status IS NOT NULL),
                               MIN(fetched_at), MAX(fetched_at), COUNT(DISTINCT host), SUM(bytes),
                               AVG(elapsed_ms) FROM page WHERE {pages}""")
    facts: dict[str, Any] = {
        "summary": {
            "pages": one[0] or 0, "ok": one[1] or 0, "errors": one[2] or 0, "responses": one[3] or 0,
            "first_fetch": one[4], "last_fetch": one[5], "hosts": one[6] or 0, "bytes": one[7] or 0,
            "mean_ms": round(one[8] or 0.0, 1),
            "links": _one(sql, "SELECT COUNT(*) FROM edge")[0],
            "checked_targets": _one(sql, "SELECT COUNT(*) FROM page WHERE kind = 'check'")[0],
            "finished": db.meta("finished") == "1",
        },
        "statuses": [{"status": s, "pages": n} for s, n in sql.execute(
            f"SELECT status, COUNT(*) FROM page WHERE {pages} GROUP BY status ORDER BY status IS NULL, status")],
        "response_times": _histogram(sql),
        "depths": [{"depth": d, "pages": n} for d, n in sql.execute(
            f"SELECT depth, COUNT(*) FROM page WHERE {pages} GROUP BY depth ORDER BY depth")],
        "hosts": [{"host": h, "pages": n, "errors": e or 0, "mean_ms": round(ms or 0.0, 1)} for h, n, e, ms in
                  sql.execute(f"""SELECT host, COUNT(*), SUM(error IS NOT NULL), AVG(elapsed_ms) FROM page
                                  WHERE {pages} GROUP BY host ORDER BY COUNT(*) DESC, host LIMIT {ROWS}""")],
        "errors": [{"kind": k, "pages": n} for k, n in sql.execute(
            f"""SELECT CASE WHEN instr(error, ':') > 0 THEN substr(error, 1, instr(error, ':') - 1)
                       ELSE error END AS kind, COUNT(*) FROM page
                WHERE {pages} AND error IS NOT NULL GROUP BY kind ORDER BY COUNT(*) DESC""")],
        "redirects": _redirects(sql),
        "duplicate_titles": _duplicate_titles(sql),
        "near_duplicates": list(_near_duplicates(sql)),
    }
    if check:
        facts["broken"] = _broken(db, verdict)
        facts["summary"]["broken"] = facts["broken"]["count"]
    facts["orphans"] = _orphans(sql, facts["summary"]["finished"])
    return facts


def _one(sql: Any, query: str) -> tuple[Any, ...]:
    return tuple(sql.execute(query).fetchone())


def _histogram(sql: Any) -> list[dict[str, Any]]:
    cases = " ".join(f"WHEN elapsed_ms < {bound} THEN {i}" for i, bound in enumerate(TIME_BUCKETS))
    counts = dict(sql.execute(f"""SELECT CASE {cases} ELSE {len(TIME_BUCKETS)} END AS bucket, COUNT(*)
                                  FROM page WHERE kind = 'page' AND status IS NOT NULL GROUP BY bucket"""))
    labels = [f"< {b} ms" for b in TIME_BUCKETS] + [f">= {TIME_BUCKETS[-1]} ms"]
    return [{"bucket": label, "pages": counts.get(i, 0)} for i, label in enumerate(labels)]


def _redirects(sql: Any) -> dict[str, Any]:
    count = _one(sql, "SELECT COUNT(*) FROM page WHERE redirects IS NOT NULL")[0]
    rows = [{"url": url, "hops": json.loads(chain), "final_url": final} for url, chain, final in sql.execute(
        f"""SELECT url, redirects, final_url FROM page WHERE redirects IS NOT NULL
            ORDER BY length(redirects) DESC, url LIMIT {ROWS}""")]
    return {"count": count, "chains": rows}


def _duplicate_titles(sql: Any) -> dict[str, Any]:
    groups = f"""SELECT title, COUNT(*) AS n FROM page p WHERE kind = 'page' AND ok = 1 AND title IS NOT NULL
                 AND title != '' AND {_DISTINCT} GROUP BY title HAVING n > 1"""
    count = _one(sql, f"SELECT COUNT(*) FROM ({groups})")[0]
    rows = []
    for title, n in sql.execute(f"{groups} ORDER BY n DESC, title LIMIT {ROWS}").fetchall():
        urls = [u for (u,) in sql.execute(f"SELECT url FROM page p WHERE kind = 'page' AND ok = 1 AND title = ? "
                                          f"AND {_DISTINCT} ORDER BY url LIMIT 10", (title,))]
        rows.append({"title": title, "pages": n, "urls": urls})
    return {"count": count, "titles": rows}


def _near_duplicates(sql: Any) -> Iterator[dict[str, Any]]:
    """Pairs of pages whose text hashes differ in at most `NEAR_BITS` bits (`ROWS` at most).

    Only pages sharing one of the hash's four 16-bit bands are compared (one
    GROUP BY per band, on disk): that finds every pair within 3 bits (they
    agree on a band, by pigeonhole) and most pairs within `NEAR_BITS`.
    """
    found: set[tuple[str, str]] = set()
    for band in range(4):
        start = band * 4 + 1
        # One sorted pass per band (SQLite sorts on disk); a run of equal bands is a candidate group.
        rows = sql.execute(f"""SELECT substr(content_hash, {start}, 4) AS b, url, content_hash FROM page p
                               WHERE kind = 'page' AND ok = 1 AND content_hash IS NOT NULL AND {_DISTINCT}
                               ORDER BY b, url""")
        for _, group in itertools.groupby(rows, key=lambda row: row[0]):
            members = list(itertools.islice(group, BAND_GROUP_MAX + 1))
            if len(members) < 2 or len(members) > BAND_GROUP_MAX:
                continue
            for i, (_, url_a, hash_a) in enumerate(members):
                for _, url_b, hash_b in members[i + 1:]:
                    bits = (int(hash_a, 16) ^ int(hash_b, 16)).bit_count()
                    if bits <= NEAR_BITS and (url_a, url_b) not in found:
                        found.add((url_a, url_b))
                        yield {"a": url_a, "b": url_b, "bits": bits}
                        if len(found) >= ROWS:
                            return


def _broken(db: LinkDB, verdict: Verdict) -> dict[str, Any]:
    targets: list[dict[str, Any]] = []
    count = 0
    for entry in db.broken(verdict):
        count += 1
        if len(targets) < ROWS:
            referrers = db.referrers(entry.target, entry.fragment, limit=REFERRERS)
            targets.append({"target": entry.target, "fragment": entry.fragment, "status": entry.status,
                            "error": entry.error, "referrers": [{"source": s, "text": t} for s, t in referrers]})
    return {"count": count, "targets": targets, "failed_seeds": db.failed_seeds()}


def _orphans(sql: Any, finished: bool) -> dict[str, Any]:
    """Sitemap URLs (depth 0 with a referrer: the sitemap) that no crawled page links to."""
    if not finished:
        return {"count": None, "urls": [], "note": "the crawl did not finish: orphans are not known"}
    query = """FROM page p WHERE p.kind = 'page' AND p.depth = 0 AND p.referrer IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM edge e WHERE e.target = p.url)"""
    count = _one(sql, f"SELECT COUNT(*) {query}")[0]
    urls = [u for (u,) in sql.execute(f"SELECT p.url {query} ORDER BY p.url LIMIT {ROWS}")]
    return {"count": count, "urls": urls}
