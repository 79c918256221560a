"""Image services assembled over given repositories, for unit and contract tests."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.config import LimitSettings
from chalicelib.services.images import ImageService
from chalicelib.services.locations import LocationSupport
from chalicelib.services.members import MemberService
from chalicelib.services.writer import ImageWriter
from tests.fakes import SequentialIds, TickingClock


@dataclass
class ImageHarness:
    """An ImageService with its writer and repositories, so tests can reach the seams the service hides."""

    repo: Any
    members: Any
    limits: LimitSettings = LimitSettings()
    clock: Any = field(default_factory=TickingClock)
    ids: Any = field(default_factory=SequentialIds)
    delayed_delete: bool = False

    def __post_init__(self) -> None:
        self.writer = ImageWriter(self.repo, self.members, self.clock, self.limits.counters(), sleep=lambda _: None)
        self.svc = ImageService(self.writer, self.repo, self.members, self.clock, self.ids, self.limits,
                                LocationSupport(), delayed_delete=self.delayed_delete)

    def reconfigured(self, *, delayed_delete: bool | None = None, **limits: int) -> "ImageHarness":
        """The same repositories, clock and ids under other limits (or delete mode)."""
        return ImageHarness(self.repo, self.members, replace(self.limits, **limits), self.clock, self.ids,
                            self.delayed_delete if delayed_delete is None else delayed_delete)

    def member_service(self) -> MemberService:
        return MemberService(self.writer, self.members, self.clock)
