"""Every setting: declared once, documented in the README's table, and passed by the CDK stack where needed."""
from __future__ import annotations

import ast
import dataclasses
from typing import Any

import pytest

from chalicelib import config
from infra import settings_doc
from infra.stacks.service_stack import logical_id
from tests.infra.conftest import ROOT, Synth

GROUPS = (config.ResourceSettings, config.IdentitySettings, config.ApiSettings, config.LimitSettings,
          config.DataSettings, config.LocationSettings, config.ImportSettings, config.FrontSettings, config.StoreSettings,
          config.AuthSettings)
# Lambda sets AWS_REGION itself; an endpoint override exists only for emulators.
SET_BY_LAMBDA_OR_LOCAL = {"AWS_REGION", "AWS_ENDPOINT_URL"}
# What the stack sets for a cloud deployment with a JWT authorizer (tests/infra/conftest.CLOUD_JWT).
JWT_ENV = {"IMAGES_AUTH_PROVIDER", "IMAGES_JWT_ISSUER", "IMAGES_JWT_AUDIENCE", "IMAGES_JWT_JWKS_URL"}


def declared() -> list[tuple[type, str, str]]:
    return [(g, f.name, f.metadata["setting"].env) for g in GROUPS for f in dataclasses.fields(g)]


def test_each_setting_has_exactly_one_declaration() -> None:
    names = [env for _, _, env in declared()]
    assert len(names) == len(set(names)) == len(config.ENV)
    assert all(f.metadata.get("setting") for g in GROUPS for f in dataclasses.fields(g)), "an undeclared field"
    # Field names are unique across groups, so Settings.of/with_values can route a name to its group.
    fields = [name for g, name, _ in declared() if g is not config.AuthSettings]
    assert len(fields) == len(set(fields))


def test_config_is_the_only_reader_of_the_environment() -> None:
    readers = []
    for path in (ROOT / "chalicelib").rglob("*.py"):
        if path.name == "config.py" and path.parent.name == "chalicelib":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == []


def test_every_setting_reads_back_what_it_renders() -> None:
    custom = config.Settings.of(
        region="eu-west-1", images_table="i", members_table="m", usage_table="u", metadefs_table="d",
        tasks_table="t", bucket="b", auth_mode="cloud", image_tag_quota=7, allowed_hosts=frozenset({"h"}),
        allowed_ports=frozenset({8443}), import_methods=("web-download",), delayed_delete=True,
        public_endpoint="https://x", download_mode="proxy",
        stores=(config.Store("a", bucket="b", description="main"),
                config.Store("far", bucket="b2", region="ap-south-1", prefix="g/", storage_class="GLACIER_IR",
                             read_only=True, weight=5)),
        default_store="a", http_store_id="web",
    )
    assert config.Settings.from_env(custom.to_env()) == custom


@pytest.mark.parametrize("env,detail", [
    ({"IMAGES_TAG_QUOTA": "many"}, "IMAGES_TAG_QUOTA must be an integer"),
    ({"IMAGES_DELAYED_DELETE": "perhaps"}, "IMAGES_DELAYED_DELETE must be a boolean"),
    ({"IMAGES_DOWNLOAD_MODE": "teleport"}, "IMAGES_DOWNLOAD_MODE: teleport not supported"),
    ({"IMAGES_ENABLED_IMPORT_METHODS": "web-download,ftp"}, "IMAGES_ENABLED_IMPORT_METHODS: ftp not supported"),
    ({"IMPORT_ALLOWED_PORTS": "80,http"}, "IMPORT_ALLOWED_PORTS must be comma-separated integers"),
    ({"IMAGES_BUCKET": ""}, "missing environment variables: IMAGES_BUCKET"),
    ({"IMAGES_STORES": "a=b"}, "IMAGES_STORES must be a JSON list of stores"),
    ({"IMAGES_STORES": '[{"id": "a"}]'}, "every store needs a string 'id' and 'bucket'"),
    ({"IMAGES_STORES": '[{"id": "a", "bucket": "b", "colour": "red"}]'}, "unknown keys \\['colour'\\]"),
    ({"IMAGES_STORES": '[{"id": "a", "bucket": "b", "read_only": "no"}]'}, "'read_only' must be a boolean"),
    ({"IMAGES_STORES": '[{"id": "a", "bucket": "b"}, {"id": "a", "bucket": "c"}]'}, "ids must be unique"),
    ({"IMAGES_STORES": '[{"id": "http", "bucket": "b"}]'}, "ids must be unique"),
    ({"IMAGES_STORES": '[{"id": "a", "bucket": "b"}]', "IMAGES_DEFAULT_STORE": "z"}, "IMAGES_DEFAULT_STORE=z"),
    ({"IMAGES_STORES": '[{"id": "a", "bucket": "b", "read_only": true}]'}, "IMAGES_DEFAULT_STORE=a must name a writable"),
    ({"IMAGES_STORES": '[{"id": "a", "bucket": "other"}]'}, "IMAGES_BUCKET=b must be the default store's bucket"),
    ({"IMAGES_STORES": '[{"id": "a", "bucket": "b", "prefix": "p"}]'}, "the default store takes no prefix"),
])
def test_a_malformed_or_missing_setting_fails_fast_naming_it(env: dict[str, str], detail: str) -> None:
    base = config.Settings.of(region="r", images_table="i", members_table="m", usage_table="u", metadefs_table="d",
                              tasks_table="t", bucket="b", auth_mode="dev").to_env()
    with pytest.raises(config.ConfigError, match=detail):
        config.Settings.from_env({**base, **env})


def test_the_readme_table_is_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text()
    assert settings_doc.table() in readme
    for env in config.ENV:
        assert f"| `{env}` |" in readme


def _function_env(synth: Synth, name: str) -> dict[str, Any]:
    props = synth.template.to_json()["Resources"][logical_id(name)]["Properties"]
    return dict(props["Environment"]["Variables"])


@pytest.mark.parametrize("name", ["api_handler", "import_begin", "import_trigger", "scrub_images"])
def test_the_stack_passes_every_setting_its_functions_need(synth: Synth, name: str) -> None:
    env = _function_env(synth, name)
    required = {e.env for e in config.ENV.values() if e.required} - SET_BY_LAMBDA_OR_LOCAL
    assert required <= set(env), sorted(required - set(env))
    assert config.STATE_MACHINE_ENV["import_image"] in env and JWT_ENV <= set(env)
    assert set(env) <= set(config.ENV), sorted(set(env) - set(config.ENV))  # nothing undeclared is passed
    assert all(isinstance(v, (str, dict)) for v in env.values())


def test_local_runner_names_come_from_the_declarations() -> None:
    from infra.local.run import LOCAL_ENV

    assert set(LOCAL_ENV) <= set(config.ENV)
    assert {config.TABLE_ENV[role] for role in config.TABLE_FIELDS} <= set(LOCAL_ENV)


@pytest.mark.parametrize("name", ["import_fetch", "import_verify", "import_activate", "import_hash"])
def test_the_data_steps_outlive_the_fetch_deadline(synth: Synth, name: str) -> None:
    """A Lambda killed before the fetch deadline would cut an import the settings allow."""
    props = synth.template.to_json()["Resources"][logical_id(name)]["Properties"]
    deadline = config.LocationSettings().fetch_deadline_ms / 1000
    assert props["Timeout"] == 900 and props["Timeout"] > deadline
