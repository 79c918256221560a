"""openstacksdk with auth_type=admin_token against the local service."""
from __future__ import annotations

import openstack
import pytest

from infra.local.run import LocalService


@pytest.mark.parametrize("suffix", ["", "/v2"])
def test_sdk_lists_creates_updates_deletes(service: LocalService, suffix: str) -> None:
    conn = openstack.connect(auth_type="admin_token", auth={"endpoint": service.url + suffix, "token": "u:p:admin"})
    image = conn.image.create_image(name=f"sdk{suffix}", disk_format="raw", container_format="bare", allow_duplicates=True)
    assert image.status == "queued" and image.owner == "p"
    assert image.id in [i.id for i in conn.image.images()]
    conn.image.update_image(image, name="renamed")
    assert conn.image.get_image(image.id).name == "renamed"
    conn.image.delete_image(image)
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.image.get_image(image.id)
