"""events.key_id: which chain key signed each event (HMAC); NULL for legacy SHA-256 events

Existing events keep their plain SHA-256 hashes and stay verifiable as unkeyed
legacy events; only new events are keyed (the key lives outside the database,
so no migration could key the old ones).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("key_id", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("key_id")
