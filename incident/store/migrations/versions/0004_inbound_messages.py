"""inbound replies: the (channel, provider message id) pairs already taken

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 07:00:00

`incident service --inbound` records a reply once however often a gateway retries its
callback: the first request claims the pair here, a replay finds it taken.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("provider_id", sa.String(200), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("person_id", sa.String(200), nullable=True),
        sa.Column("incident_id", sa.String(40), nullable=True),
        sa.Column("event_seq", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("channel", "provider_id", name="pk_inbound_messages"),
    )
    op.create_index("ix_inbound_messages_received_at", "inbound_messages", ["received_at"])
    op.create_index("ix_outbox_address_channel", "outbox", ["address", "channel"])


def downgrade() -> None:
    op.drop_index("ix_outbox_address_channel", table_name="outbox")
    op.drop_index("ix_inbound_messages_received_at", table_name="inbound_messages")
    op.drop_table("inbound_messages")
