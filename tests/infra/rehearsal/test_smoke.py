"""The smoke test against the rehearsed stack: the service configured only from the functions' environments."""
from __future__ import annotations

import hashlib
import json
import time

import pytest

from chalicelib import config as app_config
from chalicelib import wiring
from infra.local import lambda_hook
from tests.images import qcow2
from tests.infra.conftest import Synth
from tests.infra.rehearsal import deploy
from tests.infra.rehearsal.conftest import ALICE, Rehearsal
from tests.webserver import file_server

pytestmark = pytest.mark.moto
ADMIN = {"user_id": "root", "project_id": "admin-proj", "roles": "admin,member"}


def test_smoke_create_upload_ranged_download_imports_and_delete(deployed: Rehearsal, service: deploy.Gateway,
                                                                synth: Synth) -> None:
    import requests

    stack = deployed.stack
    settings = app_config.Settings.from_env(deployed.stack.env("APIHandler"))
    bucket, machine = settings.resources.bucket, str(settings.resources.import_state_machine_arn)
    s3, ddb = stack.client("s3"), stack.client("dynamodb")
    data = qcow2(padding=4096)
    octets = {"Content-Type": "application/octet-stream", "Accept": "*/*"}

    # Create and upload through the function
    made = service("POST", "/v2/images", {"name": "smoke", "disk_format": "qcow2", "container_format": "bare"})
    assert made.status_code == 201, made.body
    image = made.json_body
    assert service("PUT", f"/v2/images/{image['id']}/file", data, octets).status_code == 204
    assert wiring.container().settings == settings  # built from the function's environment alone
    shown = service("GET", f"/v2/images/{image['id']}").json_body
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(data).hexdigest()
    assert s3.head_object(Bucket=bucket, Key=f"images/{image['id']}")["ContentLength"] == len(data)

    listed = service("GET", "/v2/images?sort_key=created_at").json_body["images"]  # a listing index of the table
    assert [i["id"] for i in listed] == [image["id"]]

    # A ranged download: redirected to the stack's bucket, which answers 206
    redirect = service("GET", f"/v2/images/{image['id']}/file", headers={"Accept": "*/*", "Range": "bytes=512-1023"})
    assert redirect.status_code == 302
    assert redirect.headers["Location"].startswith(f"https://{bucket}.s3.amazonaws.com/images/{image['id']}?")
    ranged = requests.get(redirect.headers["Location"], headers={"Range": "bytes=512-1023"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == data[512:1024]

    # glance-direct: staged data imported by the stack's state machine
    direct = service("POST", "/v2/images", {"name": "direct", "disk_format": "qcow2", "container_format": "bare"})
    direct_id = direct.json_body["id"]
    assert service("PUT", f"/v2/images/{direct_id}/stage", data, octets).status_code == 204
    assert service("POST", f"/v2/images/{direct_id}/import", {"method": {"name": "glance-direct"}}).status_code == 202
    [task] = service("GET", f"/v2/images/{direct_id}/tasks").json_body["tasks"]
    assert stack.wait(machine, task["id"])["status"] == "SUCCEEDED"
    assert service("GET", f"/v2/images/{direct_id}").json_body["status"] == "active"
    # The finished task carries the TTL attribute the table expires on (epoch seconds, in the future)
    ttl_name = ddb.describe_time_to_live(TableName=settings.resources.tasks_table)["TimeToLiveDescription"]["AttributeName"]
    item = ddb.get_item(TableName=settings.resources.tasks_table, Key={"id": {"S": task["id"]}})["Item"]
    assert int(item[ttl_name]["N"]) > time.time()

    # A task import (POST /v2/tasks, admins only): fetched from a mirror the stack's app_env allows
    with file_server(synth.web_port) as web:
        web.files["/disk.qcow2"] = data
        made = service("POST", "/v2/tasks", {"type": "import", "input": {
            "import_from": web["/disk.qcow2"], "import_from_format": "qcow2",
            "image_properties": {"name": "task", "disk_format": "qcow2", "container_format": "bare"}}}, claims=ADMIN)
        assert made.status_code == 201, made.body
        assert stack.wait(machine, made.json_body["id"])["status"] == "SUCCEEDED"
    done = service("GET", f"/v2/tasks/{made.json_body['id']}", claims=ADMIN).json_body
    assert done["status"] == "success" and web.requests == [("GET", "/disk.qcow2")], done
    task_image = done["result"]["image_id"]
    assert service("GET", f"/v2/images/{task_image}", claims=ADMIN).json_body["checksum"] == hashlib.md5(data).hexdigest()

    # A presigned upload: S3 -> EventBridge (the stack's rule) -> import trigger -> the state machine
    uploaded = service("POST", "/v2/images", {"name": "upload", "disk_format": "qcow2", "container_format": "bare"})
    upload_id = uploaded.json_body["id"]
    ticket = service("POST", f"/v2/images/{upload_id}/upload-url", {}).json_body
    deployed.events.clear()
    put = requests.put(ticket["url"], data=data, headers=ticket["headers"], timeout=10)
    assert put.status_code == 200
    [(target, event)] = deployed.events  # the import rule matched; the schedule rule did not
    assert target == stack.function_config("ImportTrigger")["FunctionArn"]
    assert event["detail"]["bucket"]["name"] == bucket
    payload, errored, _ = lambda_hook.run_in_process(target.rsplit(":", 1)[-1], event)
    assert not errored, payload
    [upload_task] = service("GET", f"/v2/images/{upload_id}/tasks").json_body["tasks"]
    assert stack.wait(machine, upload_task["id"])["status"] == "SUCCEEDED"
    assert service("GET", f"/v2/images/{upload_id}").json_body["status"] == "active"

    # Delete: the record and its bytes go
    for image_id, who in ((image["id"], ALICE), (direct_id, ALICE), (upload_id, ALICE), (task_image, ADMIN)):
        assert service("DELETE", f"/v2/images/{image_id}", claims=who).status_code == 204
        assert service("GET", f"/v2/images/{image_id}", claims=who).status_code == 404
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_version_links_are_the_stacks_endpoint_url(deployed: Rehearsal, service: deploy.Gateway) -> None:
    # API Gateway's default domain, as the EndpointURL output names it; the stage is part of the path
    endpoint = deployed.stack.outputs["EndpointURL"]
    host = endpoint.split("/")[2]
    answer = service("GET", "/versions", headers={"Host": host, "X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    assert {link["href"] for v in answer.json_body["versions"] for link in v["links"]} == {endpoint + "v2/"}


def test_the_scheduled_scrubber_and_the_metadefs_loader_run_on_the_stack(deployed: Rehearsal, service: deploy.Gateway) -> None:
    stack = deployed.stack
    events = stack.client("events")
    [schedule] = [r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression")]
    [target] = events.list_targets_by_rule(Rule=schedule["Name"])["Targets"]
    assert target["Arn"] == stack.function_config("ScrubImages")["FunctionArn"]
    scheduled = {"version": "0", "id": "5e1d0a3e-0000-4000-8000-000000000000", "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": schedule["Arn"].split(":")[4], "time": "2026-01-01T00:00:00Z",
                 "region": stack.region, "resources": [schedule["Arn"]], "detail": {}}  # EventBridge's schedule event
    payload, errored, _ = lambda_hook.run_in_process(stack.physical("ScrubImages"), scheduled)
    assert not errored and json.loads(payload) == {"purged": []}, payload
    # The loader the operator invokes after a deploy (named by an output) fills the table the API lists
    payload, errored, _ = lambda_hook.run_in_process(stack.outputs["LoadMetadefsName"], {})
    created = json.loads(payload)["created"]
    assert not errored and created, payload
    listed = service("GET", "/v2/metadefs/namespaces").json_body["namespaces"]
    assert {n["namespace"] for n in listed} >= set(created)
