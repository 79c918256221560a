"""The cloud-mode authorizer: JWTs signed by locally made keys, and a fake Keystone on 127.0.0.1."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters.token_validators import CachingValidator, JwtValidator, KeystoneValidator
from chalicelib.api import authorizer, identity
from chalicelib.api.authorizer import Unauthorized
from chalicelib.config import AuthSettings

ISSUER, AUDIENCE = "https://issuer.test", "glance"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/v2/images"


class FakeIdP(BaseHTTPRequestHandler):
    """Serves a JWKS and Keystone's /v3/auth/tokens; counts what it was asked."""

    jwks: dict[str, Any] = {}
    calls: list[str] = []
    tokens: dict[str, dict[str, Any]] = {}  # subject token -> token body
    service_tokens: set[str] = set()

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.calls.append(f"GET {self.path}")
        if self.path == "/jwks.json":
            return self._send(200, self.jwks)
        if self.headers.get("X-Auth-Token") not in self.service_tokens:
            return self._send(401, {"error": "service token"})
        body = self.tokens.get(self.headers.get("X-Subject-Token", ""))
        return self._send(200, {"token": body}) if body else self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        self.calls.append(f"POST {self.path}")
        auth = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["auth"]
        if auth["identity"]["password"]["user"]["password"] != "s3cret":
            return self._send(401, {"error": "bad password"})
        token = f"svc-{len(self.calls)}"
        self.service_tokens.add(token)
        return self._send(201, {"token": {"expires_at": _iso(time.time() + 3600)}}, {"X-Subject-Token": token})


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


@pytest.fixture
def idp() -> Iterator[str]:
    FakeIdP.calls, FakeIdP.tokens, FakeIdP.service_tokens = [], {}, set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeIdP)
    # shutdown() waits for the serve loop's next poll: 0.5 s by default, per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    return (rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _publish(key: Any) -> None:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    FakeIdP.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}


def _token(key: Any, **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "sub": "u1",
            "custom:project": "p1", "groups": ["member", "reader"], **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def _jwt_validator(idp: str) -> CachingValidator:
    return CachingValidator(JwtValidator(ISSUER, AUDIENCE, f"{idp}/jwks.json", "sub", "custom:project", "groups"))


def test_a_valid_jwt_is_allowed_with_its_mapped_claims_for_the_handlers(idp: str, keys: Any) -> None:
    _publish(keys[0])
    policy = authorizer.authorize({"authorizationToken": _token(keys[0]), "methodArn": METHOD_ARN}, _jwt_validator(idp))
    [statement] = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:abc123/api/*"
    # The handlers read exactly this context (what API Gateway puts under requestContext.authorizer)
    ctx = identity.from_authorizer(policy["context"], "req-1")
    assert (ctx.user_id, ctx.project_id, ctx.roles) == ("u1", "p1", frozenset({"member", "reader"}))


@pytest.mark.parametrize("claims", [{"aud": "other"}, {"iss": "https://evil.test"}, {"exp": int(time.time()) - 5}])
def test_a_jwt_with_wrong_audience_issuer_or_expiry_is_401(idp: str, keys: Any, claims: dict[str, Any]) -> None:
    _publish(keys[0])
    with pytest.raises(Unauthorized, match="^Unauthorized$"):
        authorizer.authorize({"authorizationToken": _token(keys[0], **claims), "methodArn": METHOD_ARN},
                             _jwt_validator(idp))


def _hmac_token(secret: bytes) -> str:
    # The key-confusion attack: HS256 "signed" with the public key (PyJWT refuses to make one).
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "sub": "x"}).encode())
    return f"{head}.{body}." + b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())


def test_a_jwt_signed_by_another_key_or_with_hmac_is_401(idp: str, keys: Any) -> None:
    _publish(keys[0])
    public_pem = keys[0].public_key().public_bytes(encoding=serialization.Encoding.PEM,
                                                   format=serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = [_token(keys[1]), _hmac_token(public_pem)]
    for token in forged + ["not-a-jwt", ""]:
        with pytest.raises(Unauthorized):
            authorizer.authorize({"authorizationToken": token, "methodArn": METHOD_ARN}, _jwt_validator(idp))


def test_the_jwks_is_fetched_once_for_many_tokens(idp: str, keys: Any) -> None:
    _publish(keys[0])
    validator = _jwt_validator(idp)
    for n in range(3):
        validator.validate(_token(keys[0], sub=f"u{n}"))
    assert FakeIdP.calls.count("GET /jwks.json") == 1


def _keystone(idp: str, password: str = "s3cret", clock: Any = time.time) -> CachingValidator:
    creds = {"username": "glance", "password": password, "project_name": "service"}
    return CachingValidator(KeystoneValidator(idp, lambda: creds), clock=clock)


def _keystone_token(expires: float) -> dict[str, Any]:
    return {"expires_at": _iso(expires), "user": {"id": "ku"}, "project": {"id": "kp"},
            "roles": [{"id": "1", "name": "admin"}, {"id": "2", "name": "member"}]}


def test_a_keystone_token_is_validated_by_a_service_user_and_cached_by_hash(idp: str) -> None:
    FakeIdP.tokens["user-token"] = _keystone_token(time.time() + 600)
    validator = _keystone(idp)
    first = authorizer.authorize({"authorizationToken": "user-token", "methodArn": METHOD_ARN}, validator)
    second = authorizer.authorize({"authorizationToken": "user-token", "methodArn": METHOD_ARN}, validator)
    assert first == second and first["context"] == {"user_id": "ku", "project_id": "kp", "roles": "admin,member"}
    assert FakeIdP.calls == ["POST /v3/auth/tokens", "GET /v3/auth/tokens"]  # one login, one validation
    assert "user-token" not in validator._entries  # noqa: SLF001 - only hashes are kept
    assert len(validator._entries) == 1  # noqa: SLF001


def test_a_cached_keystone_token_is_asked_again_after_its_expiry(idp: str) -> None:
    FakeIdP.tokens["short"] = _keystone_token(time.time() + 30)
    now = [time.time()]
    validator = _keystone(idp, clock=lambda: now[0])
    validator.validate("short")
    now[0] += 60  # past the token's own expiry
    FakeIdP.tokens["short"] = _keystone_token(time.time() - 1)  # and Keystone says it has expired
    with pytest.raises(Exception):
        validator.validate("short")
    assert FakeIdP.calls.count("GET /v3/auth/tokens") == 2


def test_unknown_keystone_tokens_and_a_failed_service_login_are_401(idp: str) -> None:
    with pytest.raises(Unauthorized):
        authorizer.authorize({"authorizationToken": "nope", "methodArn": METHOD_ARN}, _keystone(idp))
    FakeIdP.tokens["user-token"] = _keystone_token(time.time() + 600)
    with pytest.raises(Unauthorized):
        authorizer.authorize({"authorizationToken": "user-token", "methodArn": METHOD_ARN}, _keystone(idp, "wrong"))


def test_a_rejected_service_token_is_renewed_once(idp: str) -> None:
    FakeIdP.tokens["user-token"] = _keystone_token(time.time() + 600)
    validator = _keystone(idp)
    validator.validate("user-token")
    FakeIdP.service_tokens.clear()  # Keystone revoked our service token
    validator._entries.clear()  # noqa: SLF001 - force a new validation
    assert validator.validate("user-token")[0].user_id == "ku"
    assert FakeIdP.calls.count("POST /v3/auth/tokens") == 2


def test_an_unreachable_keystone_is_401_not_a_crash() -> None:
    validator = _keystone("http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(Unauthorized):
        authorizer.authorize({"authorizationToken": "t", "methodArn": METHOD_ARN}, validator)


def test_the_validator_is_built_from_settings_with_configurable_claims(idp: str, keys: Any) -> None:
    _publish(keys[0])
    settings = AuthSettings.from_env({"IMAGES_AUTH_PROVIDER": "jwt", "IMAGES_JWT_ISSUER": ISSUER,
                                      "IMAGES_JWT_AUDIENCE": AUDIENCE, "IMAGES_JWT_JWKS_URL": f"{idp}/jwks.json",
                                      "IMAGES_JWT_PROJECT_CLAIM": "tenant", "IMAGES_JWT_ROLES_CLAIM": "scope"})
    validator = authorizer.build_validator(settings)
    ident, _ = validator.validate(_token(keys[0], tenant="t9", scope="reader member"))
    assert (ident.project_id, ident.roles) == ("t9", ("reader", "member"))
