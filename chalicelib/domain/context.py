"""Who is calling: the identity every service call carries."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """The caller's identity; ``roles`` are lower-cased as Glance does."""

    user_id: str | None
    project_id: str | None
    roles: frozenset[str] = frozenset()
    request_id: str = ""

    @property
    def is_admin(self) -> bool:
        """Glance's context_is_admin rule: role:admin."""
        return "admin" in self.roles

    @property
    def is_member(self) -> bool:
        """Holds a role that may write (member, or admin which implies it)."""
        return bool(self.roles & {"member", "admin"})

    @property
    def is_reader(self) -> bool:
        """Holds a role that may read (reader is implied by member and admin)."""
        return bool(self.roles & {"reader", "member", "admin"})
