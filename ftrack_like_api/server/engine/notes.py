"""What ftrack's server adds to the notes a batch writes: the caller among a new note's recipients.

A note created with recipients (``Recipient`` rows naming the note and a user or group)
also has the user who wrote the batch among them, as ftrack's server does ("the calling
user is automatically added server side", its client's tests say): whoever writes to
others is told of the replies too. Run once every operation of a batch is carried out,
so a batch that names the caller itself gets no second row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .batch import BatchContext

if TYPE_CHECKING:
    from .writer import Writer

__all__ = ["add_caller_to_recipients"]


def add_caller_to_recipients(batch: BatchContext, writer: Writer) -> None:
    """Add the batch's user as a recipient of each note the batch created with recipients."""
    if batch.user_id is None:
        return
    notes = {
        row["note_id"]
        for action, entity_type, _, _, row in batch.changed
        if action == "add" and entity_type.name == "Recipient" and row.get("note_id") in batch.created
    }
    for note_id in sorted(notes):
        if (note_id, batch.user_id) not in batch.created:
            writer.create(batch, "Recipient", {"note_id": note_id, "resource_id": batch.user_id})
