"""The scheduled scrubber: purges images left pending_delete by delayed delete."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.wiring import Container


def scrub_images(container: Container) -> dict[str, Any]:
    """Run one scrub pass; returns the purged ids (small JSON for the logs)."""
    now = container.ports.clock.now()
    purged = container.images.scrub(now, timedelta(seconds=container.settings.data.scrub_delay_seconds))
    return {"purged": purged}
