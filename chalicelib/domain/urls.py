"""Which outbound http(s) URLs the service may contact (locations, web-download): an SSRF guard.

Pure: the caller resolves the host and passes the addresses in, and calls
``check_target`` again for every redirect hop, connecting only to the
addresses that were checked.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import SplitResult, quote, urlsplit

from chalicelib.domain.errors import InvalidInput, Unreachable

# Instance metadata endpoints: refused whatever the allow lists say.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
SCHEMES = {"http": 80, "https": 443}


class TooSlow(Unreachable):
    """An outbound request's total deadline passed (400 for a request; an import fails without retrying,
    since a source that slow would only be slow again)."""

    template = "Could not reach {url}: no complete answer within {seconds:g} s ({setting})."


@dataclass(frozen=True)
class FetchPolicy:
    """IMPORT_ALLOWED_HOSTS (hosts fetched even on private addresses) and IMPORT_ALLOWED_PORTS.

    As in Glance's import filtering (``validate_import_uri``) the host and port rules are
    independent checks: an allowed host is still fetched only on an allowed port.
    """

    allowed_hosts: frozenset[str] = frozenset()
    allowed_ports: frozenset[int] = frozenset({80, 443})


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse(url: str) -> Target:
    """Scheme, host and port of an http(s) URL; InvalidInput for anything else, or for a URL that
    parsers could read differently (see ``_split``)."""
    scheme, _, host, port, _ = _split(url)
    return Target(scheme, host, port)


def normalize(url: str) -> str:
    """The URL as it is checked and stored: scheme and host lower-cased, the host IDNA-encoded,
    non-ASCII in the path, query and fragment percent-encoded; raises InvalidInput as ``parse``."""
    scheme, userinfo, host, port, parts = _split(url)
    shown = f"[{host}]" if ":" in host else host
    netloc = (f"{_quote(userinfo)}@" if userinfo is not None else "") + shown + (f":{parts.port}" if parts.port else "")
    rest = _quote(parts.path) + (f"?{_quote(parts.query)}" if "?" in url else "")
    return f"{scheme}://{netloc}{rest}" + (f"#{_quote(parts.fragment)}" if "#" in url else "")


def normalized_or_same(url: str) -> str:
    """``normalize(url)`` for a valid http(s) URL, anything else as it is (left to the caller's check)."""
    try:
        return normalize(url)
    except InvalidInput:
        return url


def _shown(url: str) -> str:
    """``url`` for an error message: control characters escaped, cut to a readable length."""
    text = url.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= 120 else text[:120] + "..."


def _split(url: str) -> tuple[str, str | None, str, int, SplitResult]:
    """(scheme, userinfo, host, port, parts) of an http(s) URL that every URL parser reads the same way.

    Python's urlsplit and a WHATWG (browser) parser disagree on backslashes (a browser reads ``\\`` as
    ``/``, so ``http://169.254.169.254\\@127.0.0.1/`` is 127.0.0.1 here and the metadata address
    there), on whitespace and control characters (stripped by one, kept by the other), on several
    ``@`` and on percent-encoded or numeric hosts; those URLs are refused rather than guessed at.
    """
    bad = next((c for c in url if c == "\\" or c.isspace() or not c.isprintable() or ord(c) == 0x7F), None)
    if bad is not None:
        what = "a backslash" if bad == "\\" else f"the character {bad!r}"
        raise InvalidInput(f"Invalid URL {_shown(url)}: it contains {what}, which URL parsers read differently.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput(f"Invalid URL: {_shown(url)}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidInput(f"The URL scheme of {_shown(url)} is not supported; use http or https.")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if "@" in userinfo:
        raise InvalidInput(f"Invalid URL {_shown(url)}: more than one '@' in its authority is ambiguous.")
    if not parts.hostname:
        raise InvalidInput(f"The URL {_shown(url)} has no host.")
    return scheme, (userinfo if at else None), _host(url, parts.hostname, hostport), port or SCHEMES[scheme], parts


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")
_NUMERIC = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


def _host(url: str, hostname: str, hostport: str) -> str:
    """The host, lower-case ASCII (IDNA for a non-ASCII name); InvalidInput unless it is a plain DNS
    name, a dotted-quad IPv4 address or a bracketed IPv6 address."""
    if hostport.startswith("["):
        if "%" in hostname:
            raise InvalidInput(f"Invalid URL {_shown(url)}: an IPv6 zone is not allowed in a URL host.")
        try:
            return str(ipaddress.IPv6Address(hostname))
        except ValueError:
            raise InvalidInput(f"Invalid URL {_shown(url)}: {hostname!r} is not an IPv6 address.") from None
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidInput(
            f"Invalid URL {_shown(url)}: its host is not a valid host name (each label 1 to 63 characters, "
            "253 in all, letters, digits and hyphens)."
        ) from None
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(
            f"Invalid URL {_shown(url)}: its host is not a valid host name (each label 1 to 63 characters, "
            "253 in all, letters, digits and hyphens)."
        )
    if _NUMERIC.match(labels[-1]):
        # A browser reads a host ending in a number as IPv4 (127.1, 0x7f.1, 2130706433): only the
        # canonical dotted quad means the same to everyone.
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError:
            canonical = ""
        if canonical != host:
            raise InvalidInput(f"Invalid URL {_shown(url)}: write an IPv4 host as four decimal numbers (a.b.c.d).")
    return host


def _quote(text: str) -> str:
    """Non-ASCII characters percent-encoded (UTF-8); everything else, escapes included, kept."""
    return quote(text, safe="".join(chr(c) for c in range(0x21, 0x7F)))


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
    """Raise InvalidInput unless ``target``'s port is allowed, whatever its host (an independent check)."""
    if target.port not in policy.allowed_ports:
        raise InvalidInput(
            f"Port {target.port} of {url} is not allowed; allowed ports are "
            f"{sorted(policy.allowed_ports)} (IMPORT_ALLOWED_PORTS)."
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
