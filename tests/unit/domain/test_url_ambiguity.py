"""URLs that two parsers read differently are refused; the rest are normalized the way they are checked."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.urls import normalize, normalized_or_same, parse


@pytest.mark.parametrize("url, word", [
    ("http://169.254.169.254\\@127.0.0.1:39303/ok", "backslash"),  # a browser's host: 169.254.169.254
    ("http://example.com\\x", "backslash"),
    ("http://a@b@127.0.0.1/", "'@'"),
    ("http://example.com/a b", "character"),
    ("http://exam\tple.com/", "character"),  # urlsplit drops the tab; others keep it
    ("http://example.com/\r\nX: y", "character"),
    ("http://example.com/\x00", "character"),
    ("http://example.com/\u200b", "character"),
    ("http://127.1/", "IPv4"),
    ("http://0x7f.0.0.1/", "IPv4"),
    ("http://2130706433/", "IPv4"),
    ("http://0177.0.0.1/", "IPv4"),
    ("http://%31%32%37.0.0.1/", "host"),
    ("http://" + "a" * 64 + ".com/", "63"),
    ("http://" + "a" * 300 + ".com/", "63"),
    ("http://a..b/", "host"),
    ("http://ex<ample.com/", "host"),
    ("http://[fe80::1%25eth0]/", "zone"),
])
def test_ambiguous_urls_are_refused_with_a_clear_message(url: str, word: str) -> None:
    with pytest.raises(InvalidInput, match=word) as caught:
        parse(url)
    assert "codec" not in caught.value.message and len(caught.value.message) < 400


@pytest.mark.parametrize("url, normalized", [
    ("http://example.com/a.img", "http://example.com/a.img"),
    ("HTTPS://Example.COM:8443/A?b=C#d", "https://example.com:8443/A?b=C#d"),
    ("http://b\u00fccher.de/x", "http://xn--bcher-kva.de/x"),
    ("http://example.com/\u00e9?q=\u00fc", "http://example.com/%C3%A9?q=%C3%BC"),
    ("http://example.com/already%20escaped", "http://example.com/already%20escaped"),
    ("http://user:pw@example.com/", "http://user:pw@example.com/"),
    ("http://[::FFFF:127.0.0.1]:8080/", "http://[::ffff:7f00:1]:8080/"),
    ("http://1.2.3.4/", "http://1.2.3.4/"),
    ("http://example.com", "http://example.com"),
])
def test_normalize(url: str, normalized: str) -> None:
    assert normalize(url) == normalized
    assert normalize(normalized) == normalized


def test_the_host_checked_is_the_normalized_one() -> None:
    assert parse("http://B\u00fccher.de/").host == "xn--bcher-kva.de"


def test_normalized_or_same_leaves_other_urls_to_their_check() -> None:
    assert normalized_or_same("s3://bucket/images/x") == "s3://bucket/images/x"
    assert normalized_or_same("http://a\\@b/") == "http://a\\@b/"
