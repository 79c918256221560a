"""The API Gateway TOKEN authorizer of cloud mode: ``X-Auth-Token`` -> the caller's identity.

API Gateway takes the token from ``X-Auth-Token`` (what ``glance``/``openstack`` send), calls
this function and caches its answer per token for a short while (the stack's
``ReauthorizeEvery``). The policy allows every method of the API so that a cached answer serves
any route; the context carries exactly what ``identity.from_authorizer`` reads: ``user_id``,
``project_id`` (``""`` when unscoped) and ``roles`` (comma-separated).
"""
from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config import AuthSettings

_state: dict[str, Any] = {}


class Unauthorized(Exception):
    """Raised with exactly this message, it makes API Gateway answer 401 (a Deny would be 403)."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(event: Mapping[str, Any], validator: Any = None) -> dict[str, Any]:
    """An Allow policy naming the token's identity; raises Unauthorized for a missing or bad token."""
    context = claims_of(str(event.get("authorizationToken") or ""), validator)
    api, stage = str(event["methodArn"]).split("/")[:2]
    return {
        "principalId": context["user_id"] or "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{api}/{stage}/*"}],
        },
        "context": context,
    }


def claims_of(token: str, validator: Any = None) -> dict[str, str]:
    """The authorizer context a token stands for (what identity.from_authorizer reads); raises Unauthorized."""
    from chalicelib.adapters.token_validators import InvalidToken

    if not token:
        raise Unauthorized()
    try:
        identity, _ = (validator or _validator()).validate(token)
    except InvalidToken:
        raise Unauthorized() from None
    return {
        "user_id": identity.user_id or "",
        "project_id": identity.project_id or "",
        "roles": ",".join(identity.roles),
    }


def build_validator(settings: AuthSettings, secrets: Any = None) -> Any:
    """The configured provider's validator, behind the token-hash cache."""
    from chalicelib.adapters import token_validators as tv

    inner: tv.Validator
    if settings.provider == "jwt":
        inner = tv.JwtValidator(str(settings.jwt_issuer), str(settings.jwt_audience), str(settings.jwt_jwks_url),
                                settings.user_claim, settings.project_claim, settings.roles_claim)
    else:
        inner = tv.KeystoneValidator(str(settings.keystone_url),
                                     lambda: _service_credentials(str(settings.keystone_service_secret), secrets))
    return tv.CachingValidator(inner)


def _service_credentials(secret_id: str, client: Any) -> Mapping[str, str]:
    import json

    if client is None:
        import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints and boto3-stubs is not a dependency

        client = boto3.client("secretsmanager")
    creds: Mapping[str, str] = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    return creds


def _validator() -> Any:
    if "validator" not in _state:
        _state["validator"] = build_validator(AuthSettings.from_env())
    return _state["validator"]
