"""Baseline: the tables of release 8ef260f (116 types), from any database made before upgrades were versioned.

Databases made before Alembic carry no revision; they come from releases whose schemas
differ (65 types and a ``user_role`` table, or columns added since). This revision brings
each one to the tables listed in ``0001_tables.json`` — a frozen description of that
release's tables, indexes and constraints, written once from its ``Storage.metadata`` and
never changed — the way those releases upgraded themselves: it creates the missing tables,
adds the missing columns (nullable), creates the missing indexes and drops the ``ix_``
indexes that release no longer made; then it seeds the security roles and moves roles
from ``user_role`` over once. Nothing is dropped but those indexes (``user_role`` stays).

A new database is built from today's schema and stamped at the head: it never runs this.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import json
import pathlib
import uuid
from typing import Any

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "tables", "upgrade"]

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: ``serve`` and every opening of the database run it by themselves (see ``upgrades.py``).
additive = True

TYPES: dict[str, Any] = {"Text": sa.Text, "BigInteger": sa.BigInteger, "Float": sa.Float, "Boolean": sa.Boolean,
                         "DateTime": sa.DateTime, "Date": sa.Date}  # fmt: skip
#: The roles of that release, with their fixed ids (uuid5 in this namespace of the role's name).
ROLES = {"admin": ("Administrator", "API"), "user": ("User", "PROJECT"), "read-only": ("Read-only", "PROJECT")}
ROLE_NAMESPACE = uuid.UUID("0d5f8a8e-3c2b-4f7e-9a0e-6a1c4b1e2f31")


def tables(dialect: str) -> sa.MetaData:
    """That release's tables, from ``0001_tables.json``, as its ``Storage`` built them on ``dialect``."""
    described = json.loads(pathlib.Path(__file__).with_name("0001_tables.json").read_text(encoding="utf-8"))
    metadata = sa.MetaData()
    for name, table in described.items():
        columns = []
        for column_name, kind, *rest in table["columns"]:
            flags = rest[0] if rest else {}
            foreign = []
            if "references" in flags:
                foreign.append(sa.ForeignKey(flags["references"], ondelete=flags.get("ondelete"),
                                             use_alter=dialect == "postgresql"))  # fmt: skip
            columns.append(sa.Column(
                column_name, TYPES[kind](), *foreign, primary_key=flags.get("primary_key", False),
                autoincrement=flags.get("autoincrement", False), nullable=flags.get("nullable", not flags.get("primary_key")),
            ))  # fmt: skip
        extra: list[Any] = [sa.UniqueConstraint(*names, name=unique) for unique, names in table.get("unique", [])]
        extra += [sa.Index(index, *names, unique=bool(rest and rest[0].get("unique"))) for index, names, *rest in table.get("indexes", [])]
        sa.Table(name, metadata, *columns, *extra)
    return metadata


def upgrade() -> None:
    bind = op.get_bind()
    wanted = tables(bind.dialect.name)
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    missing = [table for name, table in wanted.tables.items() if name not in existing]
    wanted.create_all(bind, tables=missing)
    preparer = bind.dialect.identifier_preparer
    for name, table in wanted.tables.items():
        if name not in existing:
            continue
        present = {c["name"] for c in inspector.get_columns(name)}
        for column in table.columns:
            if column.name not in present:
                # As that release did: the column alone, nullable (no constraint SQLite could not add).
                kind = column.type.compile(dialect=bind.dialect)
                bind.exec_driver_sql(f"ALTER TABLE {preparer.quote(name)} ADD COLUMN {preparer.quote(column.name)} {kind}")
        names = {index.name for index in table.indexes}
        for found in inspector.get_indexes(name):
            if found["name"] and found["name"].startswith("ix_") and found["name"] not in names:
                op.drop_index(found["name"], table_name=name)
        for declared in table.indexes:
            bind.execute(sa.schema.CreateIndex(declared, if_not_exists=True))  # SQLite does not reflect lower(name)
    _roles(bind, wanted)


def _roles(bind: sa.Connection, wanted: sa.MetaData) -> None:
    roles, granted = wanted.tables["security_role"], wanted.tables["user_security_role"]
    present = set(bind.execute(sa.select(roles.c.name)).scalars())
    for name, kind in ROLES.values():
        if name not in present:
            bind.execute(roles.insert().values(id=str(uuid.uuid5(ROLE_NAMESPACE, name)), name=name, type=kind))
    if not sa.inspect(bind).has_table("user_role") or bind.execute(sa.select(granted.c.id).limit(1)).first() is not None:
        return
    for user_id, role in bind.execute(sa.text("SELECT user_id, role FROM user_role")).all():
        if role in ROLES:
            bind.execute(granted.insert().values(
                id=str(uuid.uuid4()), user_id=str(user_id), security_role_id=str(uuid.uuid5(ROLE_NAMESPACE, ROLES[role][0])),
                is_all_projects=True,
            ))  # fmt: skip


def downgrade() -> None:
    raise NotImplementedError("A database is not taken back to before versioned upgrades: restore its backup")
