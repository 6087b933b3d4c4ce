"""ftrack's stock data as its documentation's examples name it.

ftrack's examples look up the ``Project Manager`` security role, the statuses ``On Hold``
and ``Pending``, the type ``Deliverable`` and the object type ``Asset Build``. A database
made before this revision has none of them, or spells them otherwise (``On hold``,
``AssetBuild``). This revision adds the rows it lacks (``Deliverable`` joins the default
task types, as in a new database) and renames the two rows seeded under the other
spelling, at their seeded ids, unless a row of ftrack's name is already there. Rows a
studio made itself are left as they are.

New rows, and two seeded names spelled as ftrack does: the release before reads rows by
id, so opening the database runs it by itself. It follows ``0008``.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: New rows and ftrack's spelling of two seeded names: ``serve`` and every opening run it.
additive = True

#: The namespaces of the seeded ids, as that release made them (seed.py, permissions.py).
SEED_NAMESPACE = uuid.UUID("6f1d1c84-6d6b-4f4e-9a52-6b2f1f0c9a10")
ROLE_NAMESPACE = uuid.UUID("0d5f8a8e-3c2b-4f7e-9a0e-6a1c4b1e2f31")
ASSET_BUILD_OBJECT_TYPE = "4be63b64-5010-42fb-bf1f-428af9d638f0"


def _seeded(kind: str, name: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"{kind}:{name}"))


def upgrade() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    role = sa.Table("security_role", meta, sa.Column("id", sa.Text), sa.Column("name", sa.Text), sa.Column("type", sa.Text))
    state = sa.Table("state", meta, sa.Column("id", sa.Text), sa.Column("short", sa.Text))
    status = sa.Table("status", meta, sa.Column("id", sa.Text), sa.Column("name", sa.Text), sa.Column("state_id", sa.Text),
                      sa.Column("color", sa.Text), sa.Column("sort", sa.BigInteger), sa.Column("is_active", sa.Boolean))  # fmt: skip
    kind = sa.Table("type", meta, sa.Column("id", sa.Text), sa.Column("name", sa.Text), sa.Column("color", sa.Text),
                    sa.Column("sort", sa.BigInteger), sa.Column("is_billable", sa.Boolean))  # fmt: skip
    task_types = sa.Table("task_type_schema_type", meta, sa.Column("task_type_schema_id", sa.Text),
                          sa.Column("type_id", sa.Text), sa.Column("sort", sa.BigInteger))  # fmt: skip
    schema = sa.Table("task_type_schema", meta, sa.Column("id", sa.Text))
    object_type = sa.Table("object_type", meta, sa.Column("id", sa.Text), sa.Column("name", sa.Text))

    def named(table: sa.Table, name: str) -> bool:
        return bind.execute(sa.select(table.c.id).where(table.c.name == name).limit(1)).first() is not None

    def next_sort(table: sa.Table) -> int:
        return int(bind.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.sort), -1))).scalar_one()) + 1

    def state_id(short: str) -> str | None:
        return bind.execute(sa.select(state.c.id).where(state.c.short == short).limit(1)).scalar()

    if not named(role, "Project Manager"):
        bind.execute(role.insert().values(id=str(uuid.uuid5(ROLE_NAMESPACE, "Project Manager")), name="Project Manager",
                                          type="PROJECT"))  # fmt: skip
    if not named(status, "On Hold"):
        renamed = bind.execute(status.update().where(status.c.id == _seeded("status", "On hold"),
                                                     status.c.name == "On hold").values(name="On Hold"))  # fmt: skip
        blocked = state_id("BLOCKED")
        if not renamed.rowcount and blocked is not None:
            bind.execute(status.insert().values(id=_seeded("status", "On hold"), name="On Hold", state_id=blocked,
                                                color="#9B59B6", sort=next_sort(status), is_active=True))  # fmt: skip
    started = state_id("IN_PROGRESS")
    if not named(status, "Pending") and started is not None:
        bind.execute(status.insert().values(id=_seeded("status", "Pending"), name="Pending", state_id=started,
                                            color="#F1C40F", sort=next_sort(status), is_active=True))  # fmt: skip
    if not named(kind, "Deliverable"):
        deliverable = _seeded("type", "Deliverable")
        bind.execute(kind.insert().values(id=deliverable, name="Deliverable", color="#00BCD4", sort=next_sort(kind),
                                          is_billable=True))  # fmt: skip
        default = _seeded("task type schema", "Default")
        if bind.execute(sa.select(schema.c.id).where(schema.c.id == default)).first() is not None:
            bind.execute(task_types.insert().values(task_type_schema_id=default, type_id=deliverable,
                                                    sort=next_sort(task_types)))  # fmt: skip
    if not named(object_type, "Asset Build"):
        bind.execute(object_type.update().where(object_type.c.id == ASSET_BUILD_OBJECT_TYPE,
                                                object_type.c.name == "AssetBuild").values(name="Asset Build"))  # fmt: skip


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE object_type SET name = 'AssetBuild' WHERE id = :id AND name = 'Asset Build'"),
                 {"id": ASSET_BUILD_OBJECT_TYPE})  # fmt: skip
    bind.execute(sa.text("UPDATE status SET name = 'On hold' WHERE id = :id AND name = 'On Hold'"),
                 {"id": _seeded("status", "On hold")})  # fmt: skip
