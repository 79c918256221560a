"""Outbound http(s) behind the SSRF guard: resolve, check every address, connect only to a checked one.

Redirects are followed by hand, each hop checked again, so a public URL
cannot bounce the service to 127.0.0.1 or the metadata endpoint. The TLS
connection goes to the checked address and still verifies the certificate
against the URL's host name (no second DNS lookup to rebind).
"""
from __future__ import annotations

import http.client
import socket
import ssl
from typing import Any, Callable, Sequence
from urllib.parse import urljoin, urlsplit

from chalicelib.domain import urls
from chalicelib.domain.errors import InvalidInput, Unreachable

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (getaddrinfo)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, verifying the certificate for ``server_name``."""

    def __init__(self, address: str, port: int, server_name: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)  # type: ignore[attr-defined]  # _context is set by HTTPSConnection.__init__ but absent from typeshed


class GuardedHttp:
    """http(s) requests only to targets the FetchPolicy allows."""

    def __init__(
        self, policy: urls.FetchPolicy, timeout: float = 10.0, max_redirects: int = 5,
        resolver: Callable[[str, int], Sequence[str]] = resolve,
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.resolver = resolver

    def open(self, url: str, method: str = "GET") -> tuple[Any, str]:
        """The response to ``method url`` after guarded redirects, and the final URL; InvalidInput if refused."""
        for _ in range(self.max_redirects + 1):
            target = urls.parse(url)
            addresses = self.resolver(target.host, target.port)
            urls.check_target(url, addresses, self.policy)
            response = self._request(method, url, target, addresses[0])
            location = response.getheader("Location")
            if response.status not in _REDIRECTS or not location:
                return response, url
            response.close()
            url = urljoin(url, location)
        raise InvalidInput(f"Too many redirects from {url}.")

    def _request(self, method: str, url: str, target: urls.Target, address: str) -> Any:
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            conn = _PinnedHTTPS(address, target.port, target.host, self.timeout)
        else:
            conn = http.client.HTTPConnection(address, target.port, timeout=self.timeout)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = urls.SCHEMES[target.scheme] == target.port
        host = target.host if default else f"{target.host}:{target.port}"
        try:
            conn.request(method, path, headers={"Host": host, "User-Agent": "glance-serverless"})
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise Unreachable(url=url, detail=str(exc)) from None

    def probe_size(self, url: str) -> int | None:
        """HEAD ``url``: its Content-Length, None when not given; InvalidInput unless it answers 2xx."""
        response, final = self.open(url, "HEAD")
        try:
            if not 200 <= response.status < 300:
                raise InvalidInput(f"Invalid location {url}: {response.status} from {final}")
            length = response.getheader("Content-Length")
            return int(length) if length and length.isdigit() else None
        finally:
            response.close()
