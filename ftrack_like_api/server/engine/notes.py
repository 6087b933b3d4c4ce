"""What ftrack's server adds to the notes a batch writes: the caller among a new note's recipients,
and a note's category from its labels.

A note created with recipients (``Recipient`` rows naming the note and a user or group)
also has the user who wrote the batch among them, as ftrack's server does ("the calling
user is automatically added server side", its client's tests say): whoever writes to
others is told of the replies too. Run once every operation of a batch is carried out,
so a batch that names the caller itself gets no second row.

Labels and categories are one thing on ftrack's server (``NoteLabel`` is an alias of
``NoteCategory``), whose client 3.x files ``create_note(category=…)`` as a label link. Ours
keeps two tables as twins: a category or label created, changed or deleted is created,
changed or deleted under the same id in the other table in the same batch; and a note
without a category takes the label of the first link the batch gives it as its
``category``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from .batch import BatchContext

if TYPE_CHECKING:
    from .writer import Writer

__all__ = ["add_caller_to_recipients", "categories_from_labels", "complete_notes", "twin_labels_and_categories"]

#: Each type whose rows the other keeps too, and the values they share.
TWINS = {"NoteCategory": "NoteLabel", "NoteLabel": "NoteCategory"}
SHARED = ("id", "name", "color", "sort")


def complete_notes(batch: BatchContext, writer: Writer) -> None:
    """What a batch's notes get once its operations are carried out (see the module's docstring)."""
    twin_labels_and_categories(batch, writer)
    add_caller_to_recipients(batch, writer)
    categories_from_labels(batch, writer)


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


def categories_from_labels(batch: BatchContext, writer: Writer) -> None:
    """Give each note without a category the label of the first link to it the batch created."""
    firsts: dict[str, str] = {}
    for action, entity_type, _, _, row in batch.changed:
        if action == "add" and entity_type.name == "NoteLabelLink":
            firsts.setdefault(row["note_id"], row["label_id"])
    if not firsts:
        return
    note = writer.storage.tables["note"]
    stored = {
        row.id: row.category_id
        for row in batch.connection.execute(sa.select(note.c.id, note.c.category_id).where(note.c.id.in_(list(firsts))))
    }
    for note_id, label_id in firsts.items():
        if note_id in stored and stored[note_id] is None:
            writer.update(batch, "Note", [note_id], {"category_id": label_id})


def twin_labels_and_categories(batch: BatchContext, writer: Writer) -> None:
    """Do to each category's twin label (and label's twin category) what the batch did to it."""
    changes = [(action, TWINS[kind.name], key[0], values) for action, kind, key, _, values in batch.changed
               if kind.name in TWINS]  # fmt: skip
    for action, twin, identifier, values in changes:
        table = writer.storage.table(writer.schema[twin])
        exists = batch.connection.execute(sa.select(table.c.id).where(table.c.id == identifier)).first() is not None
        if action == "add" and not exists:
            writer.create(batch, twin, {name: values[name] for name in SHARED if values.get(name) is not None})
        elif action == "update" and exists:
            shared = {name: value for name, value in values.items() if name in SHARED and name != "id"}
            if shared:
                writer.update(batch, twin, [identifier], shared)
        elif action == "remove" and exists:
            writer.delete(batch, twin, [identifier])
