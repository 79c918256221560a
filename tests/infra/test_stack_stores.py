"""A deployment with three stores: the stack's image bucket, a second bucket it makes with the same security
settings, and an existing bucket in another region (by name). One more offline synth (cdk-nag included)."""
from __future__ import annotations

import json
import os
from typing import Any, Iterator

import pytest

from chalicelib import config as app_config
from infra.stacks.settings import DeployConfig
from tests.infra.conftest import CLOUD_JWT

STORES = [{"id": "main", "description": "Primary"},
          {"id": "cold", "storage_class": "STANDARD_IA"},
          {"id": "dr", "region": "eu-west-1", "bucket": "glance-dr-eu-west-1", "prefix": "glance/"}]


@pytest.fixture(scope="module")
def stores_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.cdk_app import build

    work = tmp_path_factory.mktemp("cdk-stores")
    cwd = os.getcwd()
    os.chdir(work)  # chalice's construct writes chalice.out/ into the working directory
    try:
        app = cdk.App(outdir=str(work / "cdk.out"), context={**CLOUD_JWT, "stores": json.dumps(STORES)})
        stack = build(app)
        app.synth()
    finally:
        os.chdir(cwd)
    yield stack, Template.from_stack(stack).to_json()


def test_each_store_in_the_stack_region_gets_a_bucket_as_secure_as_the_image_bucket(stores_synth: Any) -> None:
    stack, template = stores_synth
    buckets = {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::S3::Bucket"}
    assert len(buckets) == 3  # images, the cold store's, access logs; dr exists already in eu-west-1
    images = buckets[stack.resolve(stack.get_logical_id(stack.bucket.node.default_child))]
    cold = buckets[stack.resolve(stack.get_logical_id(stack.store_buckets["cold"].node.default_child))]
    for key in ("PublicAccessBlockConfiguration", "BucketEncryption", "OwnershipControls", "LoggingConfiguration"):
        assert key in cold and key in images
    assert cold["PublicAccessBlockConfiguration"] == images["PublicAccessBlockConfiguration"]
    assert cold["BucketEncryption"] == images["BucketEncryption"]
    policies = [p["Properties"] for p in template["Resources"].values() if p["Type"] == "AWS::S3::BucketPolicy"]
    tls = [p for p in policies if any(s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                                      for s in p["PolicyDocument"]["Statement"])]
    assert len(tls) == 3  # every bucket the stack makes refuses plain HTTP


def test_functions_get_every_store_and_may_use_every_store_bucket(stores_synth: Any) -> None:
    stack, template = stores_synth
    env = stack.function_env
    listed = stack.resolve(env["IMAGES_STORES"])
    text = json.dumps(listed)
    for store in ("main", "cold", "dr", "glance-dr-eu-west-1", "eu-west-1", "STANDARD_IA", "glance/"):
        assert store in text
    assert stack.resolve(env[app_config.ENV_BUCKET]) == stack.resolve(stack.bucket.bucket_name)
    role_id = stack.resolve(stack.get_logical_id(stack.role.node.default_child))
    [policy] = [p for p in template["Resources"].values()
                if p["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in p["Properties"]["Roles"]]
    statements = json.dumps(policy)
    assert "glance-dr-eu-west-1/glance/images/*" in statements  # the store's data under its prefix
    assert stack.resolve(stack.get_logical_id(stack.store_buckets["cold"].node.default_child)) in statements


@pytest.mark.parametrize("stores,detail", [
    ([{"id": "a", "bucket": "x"}], "the first store is the stack's image bucket"),
    ([{"id": "a"}, {"id": "b", "region": "eu-west-1"}], "name its existing 'bucket'"),
    ([{"id": "a"}, {"id": "a"}], "unique string 'id'"),
])
def test_store_configurations_the_stack_cannot_build_fail_the_synth(stores: list[dict[str, Any]],
                                                                    detail: str) -> None:
    with pytest.raises(app_config.ConfigError, match=detail):
        DeployConfig(stage="test", auth_mode="dev", stores=stores).validate()



def test_each_function_gets_its_store_actions_on_every_further_stores_data(stores_synth: Any) -> None:
    """What the IAM check leaves to this synth (tests/iam/check.py): each function's ``stores`` grants
    (infra/stacks/grants.py) on each further store's ``<prefix>images/*``, and no function more than its own."""
    from infra.stacks import grants
    from infra.stacks.service_stack import logical_id
    from tests.iam.policy import StackPolicies, allowed

    stack, template = stores_synth
    policies = StackPolicies(template)
    dr = "arn:aws:s3:::glance-dr-eu-west-1/glance/images/5b3c6f5e-1f7b-4a59-8f5f-0d7f9f3f2a11"
    for name, grant in grants.GRANTS.items():
        statements = policies.statements(policies.role_of(logical_id(name)))
        for action in (grants.S3_GET, grants.S3_PUT, grants.S3_ABORT, grants.S3_DELETE):
            assert allowed(statements, action, dr) == (action in grant.stores), (name, action)
