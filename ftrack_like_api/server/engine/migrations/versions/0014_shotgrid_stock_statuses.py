"""ShotGrid's stock Version statuses as statuses of ours: ``Viewed`` and ``N/A``.

ShotGrid's Versions come with the statuses ``rev`` (Pending review), ``vwd`` (Viewed) and
``na`` (N/A); scripts written for it set them (shotgun_api3's own suite makes a Version with
``na``). Pending review was ours already. This revision adds the two statuses it lacks,
under the ids a new database gives them, and puts them last in the seeded Version workflow,
so ftrack's API offers them on AssetVersions as the ShotGrid endpoint does on Versions.
Rows a studio made itself (a status of either name, its own workflows) are left as they are.

New rows only: the release before reads statuses by id, so opening the database runs it by
itself. It follows ``0011``.

Revision ID: 0014
Revises: 0011
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

#: New rows: ``serve`` and every opening run it.
additive = True

#: The namespace of the seeded ids, as seed.py makes them.
SEED_NAMESPACE = uuid.UUID("6f1d1c84-6d6b-4f4e-9a52-6b2f1f0c9a10")
#: name, state (short), color: as seed.py has them.
STATUSES = (("Viewed", "IN_PROGRESS", "#5DADE2"), ("N/A", "DONE", "#BDC3C7"))


def _seeded(kind: str, name: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"{kind}:{name}"))


def upgrade() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    state = sa.Table("state", meta, sa.Column("id", sa.Text), sa.Column("short", sa.Text))
    status = sa.Table("status", meta, sa.Column("id", sa.Text), sa.Column("name", sa.Text), sa.Column("state_id", sa.Text),
                      sa.Column("color", sa.Text), sa.Column("sort", sa.BigInteger), sa.Column("is_active", sa.Boolean))  # fmt: skip
    workflow = sa.Table("workflow_schema", meta, sa.Column("id", sa.Text))
    members = sa.Table("workflow_schema_status", meta, sa.Column("workflow_schema_id", sa.Text),
                       sa.Column("status_id", sa.Text), sa.Column("sort", sa.BigInteger))  # fmt: skip
    version_workflow = _seeded("workflow", "Version")
    seeded_workflow = bind.execute(sa.select(workflow.c.id).where(workflow.c.id == version_workflow)).first() is not None
    for name, short, color in STATUSES:
        if bind.execute(sa.select(status.c.id).where(status.c.name == name).limit(1)).first() is not None:
            continue
        state_id = bind.execute(sa.select(state.c.id).where(state.c.short == short).limit(1)).scalar()
        if state_id is None:
            continue
        sort = int(bind.execute(sa.select(sa.func.coalesce(sa.func.max(status.c.sort), -1))).scalar_one()) + 1
        status_id = _seeded("status", name)
        bind.execute(status.insert().values(id=status_id, name=name, state_id=state_id, color=color, sort=sort,
                                            is_active=True))  # fmt: skip
        if seeded_workflow:
            last = bind.execute(sa.select(sa.func.coalesce(sa.func.max(members.c.sort), -1))
                                .where(members.c.workflow_schema_id == version_workflow)).scalar_one()  # fmt: skip
            bind.execute(members.insert().values(workflow_schema_id=version_workflow, status_id=status_id,
                                                 sort=int(last) + 1))  # fmt: skip


def downgrade() -> None:
    bind = op.get_bind()
    for name, _, _ in STATUSES:
        status_id = _seeded("status", name)
        bind.execute(sa.text("DELETE FROM workflow_schema_status WHERE status_id = :id"), {"id": status_id})
        bind.execute(sa.text("DELETE FROM status WHERE id = :id"
                             " AND NOT EXISTS (SELECT 1 FROM context WHERE status_id = :id)"
                             " AND NOT EXISTS (SELECT 1 FROM asset_version WHERE status_id = :id)"), {"id": status_id})  # fmt: skip
