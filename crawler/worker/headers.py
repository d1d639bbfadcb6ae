"""A faster ``http.client.parse_headers``, installed in worker processes only.

http.client reads a response's header block and hands it to the email
package's general-purpose ``FeedParser``, which looks for MIME structure and
unix "From " lines and keeps a defect list: ~10 % of a worker's CPU on a fast
site (py-spy, ``--gil``), more than all of parsing the status line, sending
the request and reading the body. An HTTP header block is simpler: this
parser builds the same `http.client.HTTPMessage` (the same items, in order,
folded lines included) with ``Message.set_raw``, and hands every block it
does not fully understand to the stock parser, so odd responses still get
the stock result, defects and all (which urllib3 logs).

`install` patches the module attribute that ``HTTPResponse.begin`` calls
(`crawler._internals.install_header_parser`, which also holds the other
touches of http.client and email internals); ``init_worker`` calls it, so a
program importing the crawler keeps its own http.client untouched.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import BinaryIO

from .. import _internals

_MAXLINE = _internals.HEADER_LINE_MAX
_MAXHEADERS = _internals.HEADER_COUNT_MAX
# A header line the email package reads as a plain "name: value": its name is
# printable ASCII without ":" or space (email.feedparser's headerRE).
_FIELD = re.compile(r"[\041-\071\073-\176]+:")


def parse_headers(fp: BinaryIO, _class: type[http.client.HTTPMessage] = http.client.HTTPMessage
                  ) -> http.client.HTTPMessage:
    """``http.client.parse_headers``, without the email package for plain header blocks."""
    lines = []
    while True:  # the reading is http.client's (_read_headers): same limits, same errors
        line = fp.readline(_MAXLINE + 1)
        if len(line) > _MAXLINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAXHEADERS:
            raise http.client.HTTPException(f"got more than {_MAXHEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    text = b"".join(lines).decode("iso-8859-1")
    message = parse_block(text, _class)
    if message is None:
        return email.parser.Parser(_class=_class).parsestr(text)
    return message


def parse_block(text: str, _class: type[http.client.HTTPMessage] = http.client.HTTPMessage
                ) -> http.client.HTTPMessage | None:
    """The message the email package would parse from ``text`` (a header block and its
    blank line), or None when ``text`` is not a plain block: then only it knows."""
    fields: list[list[str]] = []
    lines = text.split("\n")
    if len(lines) < 2 or lines[-1] != "":  # no line end: the stock parser takes what follows as a body
        return None
    for line in lines[:-2] if lines[-2] in ("", "\r") else lines[:-1]:
        if "\r" in line[:-1]:  # a lone CR is a line break to the email package
            return None
        if line[:1] in (" ", "\t"):
            if not fields:
                return None
            fields[-1].append(line + "\n")
        elif _FIELD.match(line):
            fields.append([line + "\n"])
        else:
            return None
    message = _internals.header_message(_class, fields)
    content_type = (message.get("Content-Type") or "").lstrip().lower()
    if content_type.startswith(("multipart/", "message/")):
        return None  # the stock parser looks for parts in the (empty) body
    message.set_payload("")
    return message


def install() -> None:
    """Make http.client (and so urllib3 and requests) in this process use `parse_headers`
    (not with ``CRAWLER_STOCK=1``: see `crawler._internals`)."""
    _internals.install_header_parser(parse_headers)
