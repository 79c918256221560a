"""Real Clock and IdGen."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone


class SystemClock:
    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(timezone.utc)


class UuidGen:
    def new_id(self) -> str:
        """A random UUID4 string."""
        return str(uuid.uuid4())
