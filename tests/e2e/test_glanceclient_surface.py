"""python-glanceclient's CLI for sharing, metadefs and discovery against the local service (issue 7 must-show)."""
from __future__ import annotations

from pathlib import Path

from infra.local.run import LocalService
from tests.e2e.test_glanceclient import field, glance

OWNER = "alice:e2e-owner:member,reader"
CONSUMER = "bob:e2e-consumer:member,reader"


def test_member_create_accept_list_then_consumer_lists_image(service: LocalService, tmp_path: Path) -> None:
    created = glance(service, OWNER, "image-create", "--name", "shared-one", "--visibility", "shared", home=tmp_path)
    assert created.returncode == 0, created.stderr
    image_id = field(created.stdout, "id")
    added = glance(service, OWNER, "member-create", image_id, "e2e-consumer", home=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "pending" in added.stdout
    assert image_id not in glance(service, CONSUMER, "image-list", home=tmp_path).stdout
    refused = glance(service, OWNER, "member-update", image_id, "e2e-consumer", "accepted", home=tmp_path)
    assert refused.returncode == 1 and "403" in refused.stderr
    accepted = glance(service, CONSUMER, "member-update", image_id, "e2e-consumer", "accepted", home=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    listed = glance(service, OWNER, "member-list", "--image-id", image_id, home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "e2e-consumer" in listed.stdout and "accepted" in listed.stdout
    assert image_id in glance(service, CONSUMER, "image-list", home=tmp_path).stdout


def test_md_commands(service: LocalService, tmp_path: Path) -> None:
    listed = glance(service, OWNER, "md-namespace-list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    for name in ("OS::Compute::Hypervisor", "OS::Glance::CommonImageProperties", "OS::OperatingSystem"):
        assert name in listed.stdout
    shown = glance(service, OWNER, "md-namespace-show", "OS::Compute::Hypervisor", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert field(shown.stdout, "display_name") == "Hypervisor Selection"
    assert "hypervisor_type" in shown.stdout and "vm_mode" in shown.stdout
    prop = glance(service, OWNER, "md-property-show", "OS::Compute::Hypervisor", "hypervisor_type", home=tmp_path)
    assert prop.returncode == 0, prop.stderr
    assert field(prop.stdout, "title") == "Hypervisor Type" and "vz" in field(prop.stdout, "enum")
    prefixed = glance(service, OWNER, "md-namespace-show", "OS::Compute::Libvirt", "--resource-type", "OS::Glance::Image",
                      home=tmp_path)
    assert prefixed.returncode == 0, prefixed.stderr
    assert "hw_serial_port_count" in prefixed.stdout


def test_usage_stores_and_import_info(service: LocalService, tmp_path: Path) -> None:
    usage = glance(service, OWNER, "usage", home=tmp_path)
    assert usage.returncode == 0, usage.stderr
    assert "image_count_total" in usage.stdout and "image_size_total" in usage.stdout
    stores = glance(service, OWNER, "stores-info", home=tmp_path)
    assert stores.returncode == 0, stores.stderr
    assert "local" in stores.stdout and "replica" in stores.stdout  # make run's two stores
    info = glance(service, OWNER, "import-info", home=tmp_path)
    assert info.returncode == 0, info.stderr
    compact = "".join(c for c in info.stdout if c not in "| \n")  # the table wraps long cells
    assert "import-methods" in compact and "glance-direct" in compact
