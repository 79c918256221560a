"""Outbound http(s) behind the SSRF guard: resolve, check every address, connect only to a checked one.

Redirects are followed by hand, each hop checked again, so a public URL
cannot bounce the service to 127.0.0.1 or the metadata endpoint. The TLS
connection goes to the checked address and still verifies the certificate
against the URL's host name (no second DNS lookup to rebind).

Every request has a total deadline (connect, redirects, headers and body):
a socket timeout alone is per read, so a server trickling a byte every few
seconds would hold the request open for ever. Each read gets the time left
as its timeout, and no read starts once the deadline has passed.
"""
from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import urljoin, urlsplit

from chalicelib.domain import urls
from chalicelib.domain.errors import InvalidInput, Unreachable

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Named in the messages of requests that ran out of time (the settings that set the deadlines).
PROBE_DEADLINE_SETTING = "IMAGES_LOCATION_PROBE_DEADLINE_MS"
FETCH_DEADLINE_SETTING = "IMAGES_IMPORT_FETCH_DEADLINE_MS"


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (getaddrinfo)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):  # UnicodeError: a name the idna codec cannot encode
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Deadlines:
    """How long outbound requests may take, in seconds: ``probe`` for a location's HEAD (the client
    waits for it), ``fetch`` for an import's GET and body, ``read`` for any single read."""

    probe: float = 5.0
    fetch: float = 600.0
    read: float = 10.0


class _Clock:
    """The time left until a request's deadline; TooSlow, naming the setting, once it has passed."""

    def __init__(self, url: str, seconds: float, setting: str) -> None:
        self.url = url
        self.seconds = seconds
        self.setting = setting
        self.at = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        """The timeout for the next socket operation (at most ``cap``); raises TooSlow when none is left."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise urls.TooSlow(url=self.url, seconds=self.seconds, setting=self.setting)
        return min(cap, left)


class _DeadlineReader(io.RawIOBase):
    """The response's socket reads, each with the time left as its timeout."""

    def __init__(self, sock: socket.socket, clock: _Clock, read_timeout: float) -> None:
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # keeps the socket open after the connection lets go
        self._clock = clock
        self._read_timeout = read_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._clock.left(self._read_timeout))
        try:
            return int(self._raw.readinto(buffer) or 0)
        except TimeoutError:
            self._clock.left(self._read_timeout)  # the deadline's own error when that is what passed
            raise

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What HTTPResponse needs of a socket (``makefile``), with reads under the deadline."""

    def __init__(self, sock: socket.socket, clock: _Clock, read_timeout: float) -> None:
        self._sock, self._clock, self._read_timeout = sock, clock, read_timeout

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._clock, self._read_timeout))


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, verifying the certificate for ``server_name``."""

    def __init__(self, address: str, port: int, server_name: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)  # type: ignore[attr-defined]  # _context is set by HTTPSConnection.__init__ but absent from typeshed


class GuardedHttp:
    """http(s) requests only to targets the FetchPolicy allows, each within its Deadlines."""

    def __init__(
        self, policy: urls.FetchPolicy, deadlines: Deadlines = Deadlines(), max_redirects: int = 5,
        resolver: Callable[[str, int], Sequence[str]] = resolve,
    ) -> None:
        self.policy = policy
        self.deadlines = deadlines
        self.max_redirects = max_redirects
        self.resolver = resolver

    def open(self, url: str, method: str = "GET") -> tuple[Any, str]:
        """The response to ``method url`` after guarded redirects, and the final URL; InvalidInput if refused,
        Unreachable if unreachable; TooSlow once the fetch deadline passes (reading the body included)."""
        return self._open(url, method, _Clock(url, self.deadlines.fetch, FETCH_DEADLINE_SETTING))

    def _open(self, url: str, method: str, clock: _Clock) -> tuple[Any, str]:
        for _ in range(self.max_redirects + 1):
            url = urls.normalize(url)
            target = urls.parse(url)
            addresses = self.resolver(target.host, target.port)
            urls.check_target(url, addresses, self.policy)
            response = self._request(method, url, target, addresses[0], clock)
            location = response.getheader("Location")
            if response.status not in _REDIRECTS or not location:
                return response, url
            response.close()
            url = urljoin(url, location)
        raise InvalidInput(f"Too many redirects from {url}.")

    def _request(self, method: str, url: str, target: urls.Target, address: str, clock: _Clock) -> Any:
        conn: http.client.HTTPConnection
        timeout = clock.left(self.deadlines.read)
        if target.scheme == "https":
            conn = _PinnedHTTPS(address, target.port, target.host, timeout)
        else:
            conn = http.client.HTTPConnection(address, target.port, timeout=timeout)
        read_timeout = self.deadlines.read
        conn.response_class = lambda sock, *args, **kwargs: http.client.HTTPResponse(  # type: ignore[assignment]  # any callable making the response will do; typeshed wants the class
            _DeadlineSocket(sock, clock, read_timeout), *args, **kwargs)  # type: ignore[arg-type]  # HTTPResponse only calls makefile("rb") on its socket
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = urls.SCHEMES[target.scheme] == target.port
        host = target.host if default else f"{target.host}:{target.port}"
        if ":" in target.host:
            host = f"[{target.host}]" if default else f"[{target.host}]:{target.port}"
        try:
            conn.request(method, path, headers={"Host": host, "User-Agent": "glance-serverless"})
            return conn.getresponse()
        except urls.TooSlow:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise Unreachable(url=url, detail=str(exc) or type(exc).__name__) from None

    def probe_size(self, url: str) -> int | None:
        """HEAD ``url`` within the probe deadline: its Content-Length, None when not given; InvalidInput
        unless it answers 2xx (TooSlow, also InvalidInput, when it does not answer in time)."""
        response, final = self._open(url, "HEAD", _Clock(url, self.deadlines.probe, PROBE_DEADLINE_SETTING))
        try:
            if not 200 <= response.status < 300:
                raise InvalidInput(f"Invalid location {url}: {response.status} from {final}")
            length = response.getheader("Content-Length")
            return int(length) if length and length.isdigit() else None
        finally:
            response.close()
