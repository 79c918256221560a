"""Token validation for the API Gateway authorizer: JWTs (OIDC, Cognito) and Keystone tokens.

Each validator turns a token into an ``Identity`` and the time it stops being valid, or raises
``InvalidToken``. PyJWT, cryptography and urllib are imported on first use, so importing this
module (and ``app``) stays cheap; only the authorizer's first call pays for them.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol

# Asymmetric algorithms only: accepting HS* would let a public JWKS key act as an HMAC secret.
JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
JWKS_LIFESPAN_SECONDS = 3600
HTTP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Identity:
    """Who a valid token speaks for."""

    user_id: str | None
    project_id: str | None
    roles: tuple[str, ...]


class InvalidToken(Exception):
    """The token is malformed, expired, wrongly signed or issued, or its issuer rejects it."""


class Validator(Protocol):
    def validate(self, token: str) -> tuple[Identity, float]:
        """The token's identity and its expiry (epoch seconds); raises InvalidToken."""


def _roles(raw: Any) -> tuple[str, ...]:
    # Lists (Cognito groups) or a space/comma separated string (OAuth scope style).
    items = raw if isinstance(raw, (list, tuple)) else str(raw or "").replace(",", " ").split()
    return tuple(str(r) for r in items if str(r))


class JwtValidator:
    """Checks signature (JWKS, cached), issuer, audience and expiry; maps configured claims."""

    def __init__(self, issuer: str, audience: str, jwks_url: str, user_claim: str = "sub",
                 project_claim: str = "project_id", roles_claim: str = "roles") -> None:
        self._issuer, self._audience, self._jwks_url = issuer, audience, jwks_url
        self._claims = (user_claim, project_claim, roles_claim)
        self._jwks: Any = None

    def validate(self, token: str) -> tuple[Identity, float]:
        """Verify ``token``; raises InvalidToken for any failure, including an unreachable JWKS."""
        import jwt

        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self._jwks_url, cache_keys=True, lifespan=JWKS_LIFESPAN_SECONDS,
                                         timeout=int(HTTP_TIMEOUT_SECONDS))
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(token, key, algorithms=JWT_ALGORITHMS, audience=self._audience,
                                issuer=self._issuer, options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        user, project, roles = self._claims
        return Identity(claims.get(user), claims.get(project), _roles(claims.get(roles))), float(claims["exp"])


def _http(method: str, url: str, headers: Mapping[str, str], body: bytes | None = None) -> tuple[int, Any, bytes]:
    from urllib import error, request

    req = request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with request.urlopen(req, timeout=HTTP_TIMEOUT_SECONDS) as resp:  # noqa: S310 - configured https URL
            return resp.status, resp.headers, resp.read()
    except error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()
    except OSError as exc:
        raise InvalidToken(f"keystone unreachable: {exc}") from None


def _expiry(token_body: Mapping[str, Any]) -> float:
    return datetime.fromisoformat(token_body["expires_at"]).timestamp()


class KeystoneValidator:
    """Validates with ``GET /v3/auth/tokens`` as a service user, as keystonemiddleware does."""

    def __init__(self, url: str, service_credentials: Callable[[], Mapping[str, str]],
                 clock: Callable[[], float] = time.time) -> None:
        self._url = url.rstrip("/") + "/v3/auth/tokens"
        self._credentials = service_credentials
        self._clock = clock
        self._service: tuple[str, float] | None = None

    def validate(self, token: str) -> tuple[Identity, float]:
        """Ask Keystone about ``token``; raises InvalidToken unless it answers 200."""
        for refresh in (False, True):
            status, _, body = _http("GET", self._url, {"X-Auth-Token": self._service_token(refresh),
                                                       "X-Subject-Token": token, "Accept": "application/json"})
            if status == 200:
                data = json.loads(body)["token"]
                roles = tuple(r["name"] for r in data.get("roles", []))
                return Identity(data["user"]["id"], data.get("project", {}).get("id"), roles), _expiry(data)
            if status != 401:  # 404: the subject token is invalid; 401: our service token is, retry once
                break
        raise InvalidToken(f"keystone answered {status}")

    def _service_token(self, refresh: bool) -> str:
        if refresh or self._service is None or self._service[1] <= self._clock() + 60:
            c = self._credentials()
            auth = {"identity": {"methods": ["password"], "password": {"user": {
                "name": c["username"], "password": c["password"],
                "domain": {"name": c.get("user_domain_name", "Default")}}}},
                "scope": {"project": {"name": c["project_name"],
                                      "domain": {"name": c.get("project_domain_name", "Default")}}}}
            status, headers, body = _http("POST", self._url, {"Content-Type": "application/json"},
                                          json.dumps({"auth": auth}).encode())
            if status != 201:
                raise InvalidToken(f"service login to keystone failed with {status}")
            self._service = (headers["X-Subject-Token"], _expiry(json.loads(body)["token"]))
        return self._service[0]


class CachingValidator:
    """Remembers valid tokens by their sha256 (never the token itself) until each one's expiry."""

    def __init__(self, inner: Validator, clock: Callable[[], float] = time.time, max_entries: int = 4096) -> None:
        self._inner, self._clock, self._max = inner, clock, max_entries
        self._entries: dict[str, tuple[Identity, float]] = {}

    def validate(self, token: str) -> tuple[Identity, float]:
        """The cached answer while unexpired, else the inner validator's (cached when valid)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        hit = self._entries.get(key)
        if hit and hit[1] > now:
            return hit
        identity, expires = self._inner.validate(token)
        if expires <= now:
            raise InvalidToken("token expired")
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[key] = (identity, expires)
        return identity, expires
