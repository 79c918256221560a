"""Which outbound http(s) URLs the service may contact (locations, web-download): an SSRF guard.

Pure: the caller resolves the host and passes the addresses in, and calls
``check_target`` again for every redirect hop, connecting only to the
addresses that were checked.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

from chalicelib.domain.errors import InvalidInput

# Instance metadata endpoints: refused whatever the allow lists say.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
SCHEMES = {"http": 80, "https": 443}


@dataclass(frozen=True)
class FetchPolicy:
    """IMPORT_ALLOWED_HOSTS and IMPORT_ALLOWED_PORTS: any port of an explicitly allowed host is fine."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_ports: frozenset[int] = frozenset({80, 443})


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse(url: str) -> Target:
    """Scheme, host and port of an http(s) URL; InvalidInput for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput(f"Invalid URL: {url}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidInput(f"The URL scheme of {url} is not supported; use http or https.")
    if not parts.hostname:
        raise InvalidInput(f"The URL {url} has no host.")
    return Target(scheme, parts.hostname.lower(), port or SCHEMES[scheme])


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _plain(raw: str) -> Address:
    """The address, with an IPv4-mapped IPv6 address (::ffff:a.b.c.d) unwrapped and a zone dropped."""
    address = ipaddress.ip_address(raw.split("%", 1)[0])
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _why_refused(address: Address) -> str | None:
    for label, flag in (
        ("loopback", address.is_loopback), ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local), ("multicast", address.is_multicast),
        ("private", address.is_private), ("reserved", address.is_reserved),
    ):
        if flag:
            return label
    return None if address.is_global else "non-public"


def check_port(url: str, target: Target, policy: FetchPolicy) -> None:
    """Raise InvalidInput unless ``target``'s port is allowed (any port of an explicitly allowed host is)."""
    if target.host not in policy.allowed_hosts and target.port not in policy.allowed_ports:
        raise InvalidInput(
            f"Port {target.port} of {url} is not allowed; allowed ports are "
            f"{sorted(policy.allowed_ports)} (IMPORT_ALLOWED_PORTS), or list the host in IMPORT_ALLOWED_HOSTS."
        )


def check_target(url: str, addresses: Iterable[str], policy: FetchPolicy) -> Target:
    """Raise InvalidInput unless ``url`` may be contacted at every one of ``addresses``."""
    target = parse(url)
    allowed_host = target.host in policy.allowed_hosts
    resolved = [_plain(a) for a in addresses]
    if not resolved:
        raise InvalidInput(f"The host of {url} does not resolve.")
    for address in resolved:
        if address in METADATA_ADDRESSES:
            raise InvalidInput(f"{url} points at the instance metadata service ({address}), which is never allowed.")
    check_port(url, target, policy)
    for address in resolved:
        reason = None if allowed_host else _why_refused(address)
        if reason is not None:
            raise InvalidInput(
                f"{url} resolves to a {reason} address ({address}), which is not allowed; "
                "list the host in IMPORT_ALLOWED_HOSTS to allow it."
            )
    return target
