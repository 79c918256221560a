"""Tag rows of the images table (dynamo_models.TagRowRecord): the records an image write puts and deletes.

The rows follow domain.listing_keys.tag_rows; an image write carries its row
changes in its own transaction (dynamo_images), so a committed image and its
rows agree. Deletes that do not fit the transaction follow it: a row left
behind only costs a listing one read, because every filter is judged again
on the fetched image.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.adapters.dynamo_models import TagRowRecord
from chalicelib.domain import listing_keys
from chalicelib.domain.images import Image

SEP = "\x1ftag\x1f"  # image ids are UUIDs, so the first unit separator ends the image id


def row_id(image_id: str, tag: str) -> str:
    """The id of ``image_id``'s row for ``tag``."""
    return f"{image_id}{SEP}{tag}"


def image_of(item_id: str) -> str:
    """The image an item of the images table belongs to (its own id for an image)."""
    return item_id.split(SEP, 1)[0]


def is_row_id(item_id: str) -> bool:
    """Whether ``item_id`` names a tag row rather than an image."""
    return "\x1f" in item_id


@dataclass(frozen=True)
class TagChanges:
    """Rows to put (TagRowRecords with their values) and rows to delete (keys only)."""

    puts: list[Any]
    deletes: list[Any]

    @property
    def empty(self) -> bool:
        return not self.puts and not self.deletes


def changes(old: Image | None, new: Image) -> TagChanges:
    """The row writes taking ``old``'s rows to ``new``'s; raises QuotaExceeded (see listing_keys.tag_writes)."""
    puts, gone = listing_keys.tag_writes(old, new)
    return TagChanges(
        [TagRowRecord(row_id(new.id, tag), image_id=new.id, lo=row.lo, lv=row.lv, s_created_at=row.sort)
         for tag, row in sorted(puts.items())],
        [TagRowRecord(row_id(new.id, tag)) for tag in gone],
    )


def records(image: Image) -> list[Any]:
    """Every row ``image`` has (for seeding a table in bulk, as a create would write them)."""
    return changes(None, image).puts


def delete_rest(rows: list[Any], what: str) -> None:
    """BatchWriteItem deletes of rows that did not fit their image's transaction."""
    if not rows:
        return
    with translated(what), TagRowRecord.batch_write() as batch:
        for row in rows:
            batch.delete(row)
