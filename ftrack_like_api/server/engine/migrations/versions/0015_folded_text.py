"""Text compared without case, and ftrack's ``External Note`` label.

``name is "task"`` now finds the object type ``Task``, as on ftrack's server (see
``engine/folding.py``): each indexed text column gets a second index on its folded value
(``lower(name)`` on SQLite, ``lower(name COLLATE "C")`` on PostgreSQL), so a name lookup
stays one index read. ftrack's documentation looks the note label up as
``External Note``: the seeded ``External`` category and label are renamed at their seeded
id, unless a row of that name is already there. Rows a studio made itself are left as
they are.

Only indexes and a seeded name: the release before reads rows by id, so opening the
database runs it by itself.

Revision ID: 0015
Revises: 0011
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: Indexes and a seeded name: ``serve`` and every opening of the database run it.
additive = True

#: (table, column) of each indexed text column, as ``Storage`` indexes its folded values.
FOLDED = (
    ("appointment", "type"), ("asset", "name"), ("asset_type", "short"), ("context", "name"),
    ("custom_attribute_configuration", "key"), ("custom_attribute_group", "name"),
    ("custom_attribute_link_configuration", "key"), ("custom_attribute_type", "name"),
    ("custom_configuration_base", "key"), ("location", "name"), ("manager_type", "name"), ("object_type", "name"),
    ("resource", "email"), ("resource", "username"), ("scope", "name"), ("security_role", "name"),
    ("state", "short"), ("status", "name"), ("type", "name"),
)  # fmt: skip

#: The seeded ``External`` note category and label (the same id in both tables, seed.py).
EXTERNAL = str(uuid.uuid5(uuid.UUID("6f1d1c84-6d6b-4f4e-9a52-6b2f1f0c9a10"), "note category:External"))


def _folded(column: sa.Column, dialect: str) -> sa.ColumnElement:  # type: ignore[type-arg]
    if dialect == "postgresql":
        return sa.func.lower(column.collate("C"))
    return sa.func.lower(column)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())
    for table_name, column_name in FOLDED:  # IF NOT EXISTS: SQLite does not reflect an expression index
        if table_name in tables:
            table = sa.Table(table_name, sa.MetaData(), sa.Column(column_name, sa.Text))
            index = sa.Index(f"ix_{table_name}_{column_name}_folded", _folded(table.c[column_name], bind.dialect.name))
            bind.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    for table_name in ("note_category", "note_label"):
        if table_name not in tables:
            continue
        table = sa.Table(table_name, sa.MetaData(), sa.Column("id", sa.Text), sa.Column("name", sa.Text))
        if bind.execute(sa.select(table.c.id).where(table.c.name == "External Note").limit(1)).first() is None:
            bind.execute(table.update().where(table.c.id == EXTERNAL, table.c.name == "External").values(name="External Note"))


def downgrade() -> None:
    bind = op.get_bind()
    for table_name in ("note_category", "note_label"):
        bind.execute(sa.text(f"UPDATE {table_name} SET name = 'External' WHERE id = :id AND name = 'External Note'"),
                     {"id": EXTERNAL})  # fmt: skip
    for table_name, column_name in FOLDED:
        op.drop_index(f"ix_{table_name}_{column_name}_folded", table_name=table_name, if_exists=True)
