"""crawler.store.seeds: seed files, URLs on the command line, and stdin."""

from __future__ import annotations

import io

import pytest

from crawler.errors import SeedError
from crawler.store.seeds import parse_seed, read_seeds


def write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_blank_lines_and_comments_skipped(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "\n# a comment\nhttp://a.test/1\n\n   \n  # indented comment\nhttp://b.test/2\n")
    assert read_seeds([seeds]) == ["http://a.test/1", "http://b.test/2"]


def test_trailing_comment_stripped(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "http://a.test/x # the home page\nhttps://b.test/y   #  spaced\n")
    assert read_seeds([seeds]) == ["http://a.test/x", "https://b.test/y"]


def test_trailing_comment_after_tab_stripped(tmp_path):
    # any white space before "#" starts a comment, as in shell and most list formats
    seeds = write(tmp_path / "seeds.txt", "https://b.test/y\t# tab comment\n")
    assert read_seeds([seeds]) == ["https://b.test/y"]


def test_hash_without_space_is_a_fragment(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "http://a.test/page#section\n")
    assert read_seeds([seeds]) == ["http://a.test/page"]


def test_bare_host_gets_http(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "example.com\nexample.org/path?b=1&a=2\nlocalhost:8080/x\n")
    assert read_seeds([seeds]) == [
        "http://example.com/",
        "http://example.org/path?a=2&b=1",
        "http://localhost:8080/x",
    ]


def test_urls_normalized(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "HTTP://Example.COM:80/A\nhttps://b.test:443\n")
    assert read_seeds([seeds]) == ["http://example.com/A", "https://b.test/"]


def test_duplicates_removed_order_kept(tmp_path):
    first = write(tmp_path / "one.txt", "http://c.test/\nhttp://a.test/\nhttp://c.test/\nHTTP://A.TEST\n")
    second = write(tmp_path / "two.txt", "http://b.test/\nhttp://a.test/#x\n")
    assert read_seeds([first, second, "http://d.test/", "http://b.test"]) == [
        "http://c.test/",
        "http://a.test/",
        "http://b.test/",
        "http://d.test/",
    ]


def test_crlf_and_bom(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbfhttp://a.test/1\r\n# c\r\nhttp://b.test/2\r\n")
    assert read_seeds([str(path)]) == ["http://a.test/1", "http://b.test/2"]


def test_urls_on_command_line():
    assert read_seeds(["http://a.test/", "https://b.test/x"]) == ["http://a.test/", "https://b.test/x"]


def test_bare_host_on_command_line():
    assert read_seeds(["example.com"]) == ["http://example.com/"]


def test_stdin_dash():
    stdin = io.StringIO("# from a pipe\nhttp://a.test/\n\nb.test/page\n")
    assert read_seeds(["-"], stdin=stdin) == ["http://a.test/", "http://b.test/page"]


def test_stdin_mixed_with_files(tmp_path):
    seeds = write(tmp_path / "s.txt", "http://file.test/\n")
    stdin = io.StringIO("http://stdin.test/\n")
    assert read_seeds([seeds, "-"], stdin=stdin) == ["http://file.test/", "http://stdin.test/"]


def test_unsupported_scheme_names_file_and_line(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "http://a.test/\n# comment\nftp://files.example/x\n")
    with pytest.raises(SeedError) as info:
        read_seeds([seeds])
    message = str(info.value)
    assert f"{seeds}:3" in message
    assert "ftp" in message


@pytest.mark.parametrize("line", ["mailto:someone@example.com", "javascript:alert(1)", "file:///etc/passwd"])
def test_other_schemes_rejected(tmp_path, line):
    seeds = write(tmp_path / "seeds.txt", f"http://a.test/\n{line}\n")
    with pytest.raises(SeedError, match=r"seeds\.txt:2"):
        read_seeds([seeds])


def test_line_with_inner_space_rejected(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "http://a.test/ http://b.test/\n")
    with pytest.raises(SeedError, match=r"seeds\.txt:1"):
        read_seeds([seeds])


def test_bad_port_rejected(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "http://a.test:99999/\n")
    with pytest.raises(SeedError, match=r"seeds\.txt:1"):
        read_seeds([seeds])


def test_bad_line_on_stdin_named():
    with pytest.raises(SeedError, match=r"<stdin>:2"):
        read_seeds(["-"], stdin=io.StringIO("http://a.test/\nftp://x.test/\n"))


def test_missing_file(tmp_path):
    with pytest.raises(SeedError, match="missing"):
        read_seeds([str(tmp_path / "missing.txt")])


def test_missing_file_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SeedError):
        read_seeds(["lists/missing"])


def test_missing_file_with_file_like_name(tmp_path, monkeypatch):
    # SEED is a file, a URL or "-": a mistyped seed file name such as
    # "seeds.txt" (".txt" is no public suffix) is a missing file (exit 2),
    # not a request to http://seeds.txt/.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SeedError, match="seeds.txt"):
        read_seeds(["seeds.txt"])


def test_empty_file(tmp_path):
    seeds = write(tmp_path / "empty.txt", "")
    with pytest.raises(SeedError, match="empty"):
        read_seeds([seeds])


def test_only_comments_is_empty(tmp_path):
    seeds = write(tmp_path / "comments.txt", "# nothing\n\n   # here\n")
    with pytest.raises(SeedError):
        read_seeds([seeds])


def test_empty_stdin():
    with pytest.raises(SeedError):
        read_seeds(["-"], stdin=io.StringIO(""))


def test_no_sources():
    with pytest.raises(SeedError):
        read_seeds([])


def test_directory(tmp_path):
    with pytest.raises(SeedError, match="directory"):
        read_seeds([str(tmp_path)])


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("http://a.test/caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SeedError, match="UTF-8"):
        read_seeds([str(path)])


def test_binary_file(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(SeedError):
        read_seeds([str(path)])


def test_seed_error_is_value_error():
    assert issubclass(SeedError, ValueError)


def test_parse_seed():
    assert parse_seed("Example.com", "x") == "http://example.com/"
    assert parse_seed("https://a.test", "x") == "https://a.test/"
    with pytest.raises(SeedError, match="where:1"):
        parse_seed("gopher://a.test/", "where:1")


def test_skipped_collects_bad_lines_and_keeps_good_ones(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "http://a.test/\nftp://x.test/\nhttp://b.test/\nhttp://a b/\n")
    skipped: list[SeedError] = []
    assert read_seeds([seeds], skipped=skipped) == ["http://a.test/", "http://b.test/"]
    assert [str(e).split(": ")[0] for e in skipped] == [f"{seeds}:2", f"{seeds}:4"]


def test_skipped_never_swallows_a_bad_command_line_url():
    with pytest.raises(SeedError, match="command line"):
        read_seeds(["ftp://x.test/"], skipped=[])


def test_every_line_skipped_is_an_empty_list(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "ftp://x.test/\n")
    skipped: list[SeedError] = []
    with pytest.raises(SeedError, match="every line was skipped"):
        read_seeds([seeds], skipped=skipped)
    assert len(skipped) == 1


def test_max_url_length_counts_the_canonical_url(tmp_path):
    seeds = write(tmp_path / "seeds.txt", "http://a.test/" + "x" * 20 + "\n")
    assert read_seeds([seeds], max_url_length=34) == ["http://a.test/" + "x" * 20]
    with pytest.raises(SeedError, match=r"seeds\.txt:1: URL longer than 33"):
        read_seeds([seeds], max_url_length=33)


def test_idn_host_is_punycoded():
    assert parse_seed("http://Bücher.example/", "x") == "http://xn--bcher-kva.example/"
