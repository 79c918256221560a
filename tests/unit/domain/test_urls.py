"""The outbound-URL guard: schemes, ports, and every kind of address that must not be contacted."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.urls import FetchPolicy, check_target, parse

OPEN = FetchPolicy()
LOCAL = FetchPolicy(allowed_hosts=frozenset({"files.internal", "127.0.0.1"}))


def test_public_http_and_https_on_default_ports_pass() -> None:
    assert check_target("https://example.com/a.img", ["93.184.216.34"], OPEN).port == 443
    assert check_target("http://example.com/a.img", ["2606:2800:220:1:248:1893:25c8:1946"], OPEN).port == 80


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x/", "http:///nohost", "http://[::1"])
def test_other_schemes_and_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        parse(url)


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.5", "private"),
        ("172.16.0.1", "private"), ("169.254.10.10", "link-local"), ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"), ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "non-public"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        check_target("http://example.com/x", [address], OPEN)


def test_one_bad_address_among_several_refuses_the_url() -> None:
    with pytest.raises(InvalidInput, match="loopback"):
        check_target("http://example.com/x", ["93.184.216.34", "127.0.0.1"], OPEN)


@pytest.mark.parametrize("address", ["169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"])
def test_the_metadata_endpoint_is_refused_even_for_an_allowed_host(address: str) -> None:
    allowed = FetchPolicy(allowed_hosts=frozenset({"meta.internal"}))
    with pytest.raises(InvalidInput, match="metadata"):
        check_target("http://meta.internal/latest/", [address], allowed)


def test_allowed_hosts_may_be_private_but_only_on_allowed_ports() -> None:
    # Glance's validate_import_uri: the host and the port rules are independent checks.
    assert check_target("http://files.internal/x", ["10.0.0.7"], LOCAL).port == 80
    for url, address in (("http://files.internal:8080/x", "10.0.0.7"), ("http://127.0.0.1:9000/x", "127.0.0.1")):
        with pytest.raises(InvalidInput, match="Port .* is not allowed.*IMPORT_ALLOWED_PORTS"):
            check_target(url, [address], LOCAL)
    wider = FetchPolicy(allowed_hosts=LOCAL.allowed_hosts, allowed_ports=frozenset({9000}))
    assert check_target("http://127.0.0.1:9000/x", ["127.0.0.1"], wider).host == "127.0.0.1"
    with pytest.raises(InvalidInput, match="Port 80 "):
        check_target("http://127.0.0.1/x", ["127.0.0.1"], wider)  # 80 is no longer in the list


def test_other_ports_need_the_port_list() -> None:
    with pytest.raises(InvalidInput, match="IMPORT_ALLOWED_PORTS"):
        check_target("http://example.com:8080/x", ["93.184.216.34"], OPEN)
    assert check_target("http://example.com:8080/x", ["93.184.216.34"], FetchPolicy(allowed_ports=frozenset({8080})))


def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not resolve"):
        check_target("http://nowhere.invalid/x", [], OPEN)
