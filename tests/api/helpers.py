"""Headers and small helpers for API tests."""
from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

from tests.fakes import InMemoryObjectStore

PATCH21 = "application/openstack-images-v2.1-json-patch"
PATCH20 = "application/openstack-images-v2.0-json-patch"


def token(user: str, project: str, roles: str) -> dict[str, str]:
    return {"X-Auth-Token": f"{user}:{project}:{roles}", "Accept": "application/json", "Content-Type": "application/json"}


ADMIN = token("admin", "admin-proj", "admin")
ALICE = token("alice", "proj-a", "member,reader")
BOB = token("bob", "proj-b", "member,reader")
READER = token("rita", "proj-a", "reader")


def body(resp: Any) -> Any:
    return json.loads(resp.body)


def create(api: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    resp = api.http.post("/v2/images", headers=headers, body=json.dumps(fields))
    assert resp.status_code == 201, resp.body
    return body(resp)


def patch(api: Any, headers: dict[str, str], image_id: str, ops: list[dict[str, Any]], media: str = PATCH21) -> Any:
    return api.http.patch(f"/v2/images/{image_id}", headers={**headers, "Content-Type": media}, body=json.dumps(ops))


def reconfigure(container: Any, *, ports: dict[str, Any] | None = None, **settings: Any) -> Any:
    """Serve the rest of the test from the same adapters under other settings (and optionally other ``ports``)."""
    from dataclasses import replace

    from chalicelib import wiring

    current = wiring.container()
    ports = replace(current.ports, **(ports or {}))
    rebuilt = wiring.assemble(current.settings.with_values(**settings), ports)
    wiring.override(rebuilt)
    return rebuilt


def stored_keys(container: Any) -> list[str]:
    """Every object key in the container's store, sorted: the in-memory store's, or the S3 bucket's listing."""
    store = container.data.store
    if isinstance(store, InMemoryObjectStore):
        return store.keys()
    listed = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def run_location_task(container: Any, task_id: str) -> dict[str, Any]:
    """The execution of a location_import task as the ASL runs it, on the fakes (whose launcher only records):
    BeginImport, HashLocation, RecordSuccess; any step's error goes to RecordFailure with the Catch's
    ``{Error, Cause}``. Returns the last step's output."""
    steps = container.import_steps
    state: dict[str, Any] = {"task_id": task_id}
    try:
        state = steps.begin(state)
        assert state["method"] == "location_import"  # the ASL's ChooseSteps goes to HashLocation
        return dict(steps.succeed(steps.hash_location(state)))
    except Exception as exc:  # noqa: BLE001 - the ASL's Catch is States.ALL
        error = {"Error": type(exc).__name__, "Cause": json.dumps({"errorMessage": str(exc)})}
        return dict(steps.fail({**state, "error": error}))


GATEWAY_HOST = "abc.execute-api.us-east-1.amazonaws.com"


def gateway_event(path: str, stage: str = "prod", method: str = "GET", headers: dict[str, str] | None = None,
                  data: bytes = b"") -> dict[str, Any]:
    """What API Gateway hands the function for a path only the greedy ``/{proxy+}`` resource matches
    (chalice's local router matches ``{proxy+}`` against one segment only); ``path`` may carry a query."""
    path, _, query = path.partition("?")
    params = parse_qs(query, keep_blank_values=True) or None
    sent = {k.lower(): v for k, v in headers.items()} if headers is not None else {"accept": "application/json"}
    return {"resource": "/{proxy+}", "path": path, "httpMethod": method,
            "headers": {**sent, "host": GATEWAY_HOST, "x-forwarded-proto": "https"},
            "multiValueHeaders": {}, "queryStringParameters": params and {k: v[-1] for k, v in params.items()},
            "multiValueQueryStringParameters": params, "pathParameters": {"proxy": path.lstrip("/")},
            "stageVariables": None,
            "body": base64.b64encode(data).decode() if data else None, "isBase64Encoded": bool(data),
            "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method, "path": f"/{stage}{path}",
                               "stage": stage, "identity": {"sourceIp": "127.0.0.1"}}}
