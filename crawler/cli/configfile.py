"""Config files (``--config scrape.toml``): seeds, options and selectors in TOML.

Every key is a long option in snake_case (``--max-pages`` → ``max_pages``,
``--no-robots`` → ``no_robots = true``); a repeatable option (``--allow``,
``--header``, ``--select``…) takes an array of what one would type after it,
and ``seeds`` is an array of SEEDs. Values are checked by the command line's
own parser, so a file accepts exactly what the command line accepts, and
paths mean what they mean on the command line (relative to the current
directory). `read_config_file` returns ``argv``-style arguments per key.

Example::

    seeds = ["urls/example.txt"]
    output = "pages.csv"
    depth = 1
    select = ["h1=h1", "canonical=link[rel=canonical]@href"]

    [hosts."slow.example.com"]   # this host's own settings over the crawl's
    delay = 5
    per_host = 1
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import UsageError

#: key → the TOML type its value must have. "list" is an array of strings;
#: "flag" is a boolean for an option that takes no value.
KEYS: dict[str, str] = {
    "seeds": "list",
    "output": "str",
    "format": "str",
    "depth": "int",
    "max_pages": "int",
    "max_pages_per_host": "int",
    "max_url_length": "int",
    "scope": "str",
    "allow": "list",
    "deny": "list",
    "workers": "int",
    "concurrency": "int",
    "per_host": "int",
    "delay": "float",
    "timeout": "float",
    "retries": "int",
    "max_retry_after": "float",
    "max_bytes": "int",
    "user_agent": "str",
    "header": "list",
    "proxy": "str",
    "insecure": "flag",
    "no_private": "flag",
    "ca_bundle": "str",
    "cookies": "str",
    "no_robots": "flag",
    "follow_nofollow": "flag",
    "sitemaps": "flag",
    "state": "str",
    "changed_only": "flag",
    "recrawl_after": "str",
    "redis": "str",
    "crawl_id": "str",
    "node": "str",
    "lease_timeout": "float",
    "redis_outage": "float",
    "strict": "flag",
    "url_column": "str",
    "keep_columns": "str",
    "select": "list",
    "select_all": "list",
    "markdown": "flag",
    "content": "str",
    "markdown_dir": "str",
    "chunks": "str",
    "chunk_words": "int",
    "seo": "flag",
    "links": "str",
    "report": "list",
    "check_assets": "flag",
    "ignore": "list",
    "accept": "str",
    "summary": "str",
    "log_file": "str",
    "warc": "str",
    "warc_max_size": "str",
    "quiet": "flag",
    "no_progress": "flag",
    "verbose": "flag",
}

_TYPE_NAMES = {"list": "an array of strings", "flag": "true or false", "int": "an integer",
               "float": "a number", "str": "a string"}


class ConfigFileError(UsageError):
    """A config file is unreadable, not TOML, or has an unknown key or a wrong value."""


def read_config_file(path: str) -> list[tuple[str, list[str]]]:
    """The file's settings as (key, command-line arguments) pairs, in file order.

    Raises `ConfigFileError` (naming the file and key) for an unreadable file,
    bad TOML, an unknown key or a value of the wrong type. The values
    themselves (ranges, choices) are for the command-line parser to check.
    """
    data = _load(path)
    pairs = []
    for key, value in data.items():
        if key == "hosts":
            pairs.extend(_host_args(path, value))
        else:
            pairs.append((key, to_args(path, key, value)))
    return pairs


#: keys of a ``[hosts."NAME"]`` table
HOST_KEYS = ("per_host", "delay", "user_agent", "header", "max_pages")


def _host_args(path: str, hosts: Any) -> list[tuple[str, list[str]]]:
    """``[hosts."NAME"]`` tables as ``("hosts.NAME.KEY", arguments)`` pairs (``max_pages`` read as --max-pages)."""
    if not isinstance(hosts, dict) or not all(isinstance(v, dict) for v in hosts.values()):
        raise ConfigFileError(f'{path}: hosts: expected tables such as [hosts."example.com"], '
                              f"got {_toml_type(hosts)}")
    pairs = []
    for name, table in hosts.items():
        for key, value in table.items():
            if key not in HOST_KEYS:
                raise ConfigFileError(f"{path}: hosts.{name}: unknown key {key!r} (keys: {', '.join(HOST_KEYS)})")
            pairs.append((f"hosts.{name}.{key}", to_args(f"{path}: hosts.{name}", key, value)))
    return pairs


def _load(path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # tomllib's forerunner, a dependency on 3.10 only
        import tomli as tomllib

    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{path}: not valid TOML: not UTF-8 ({exc.reason})") from None


def to_args(path: str, key: str, value: Any) -> list[str]:
    """Command-line arguments that say what ``key = value`` says (raises `ConfigFileError`)."""
    kind = KEYS.get(key)
    if kind is None:
        raise ConfigFileError(f"{path}: unknown key {key!r}{_hint(key)}")
    if not _has_type(value, kind):
        raise ConfigFileError(f"{path}: {key}: expected {_TYPE_NAMES[kind]}, got {_toml_type(value)}")
    if key == "seeds":
        return ["--", *value]  # a seed is never an option, even "-x"
    option = "--" + key.replace("_", "-")
    if kind == "flag":
        return [option] if value else []
    # "--opt=value" keeps a value that starts with "-" from reading as an option.
    if kind == "list":
        return [f"{option}={item}" for item in value]
    return [f"{option}={value}"]


def _has_type(value: Any, kind: str) -> bool:
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "flag":
        return isinstance(value, bool)
    if isinstance(value, bool):  # a bool is an int to Python, not to us
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "float":
        return isinstance(value, (int, float))
    return isinstance(value, str)


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array with a non-string item" if value else "an array"
    if isinstance(value, str):
        return f"the string {value[:60]!r}"
    kind = {int: "an integer", float: "a number"}.get(type(value), f"a {type(value).__name__}")
    return f"{str(value)[:60]} ({kind})"


def _hint(key: str) -> str:
    snake = key.replace("-", "_")
    if snake in KEYS:
        return f" (keys are snake_case: {snake})"
    import difflib  # only for this message

    close = difflib.get_close_matches(snake, KEYS, n=1)
    return f" (did you mean {close[0]}?)" if close else ""
