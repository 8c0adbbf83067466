"""Revoked tokens: sessions signed out and bearer tokens revoked before they expire.

Revision ID: 0005_session_revocation
Revises: 0004
Create Date: 2026-12-20
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005_session_revocation"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")
_TABLE = "actiondesk_revoked_tokens"


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), *_MYSQL
    )


def _datetime() -> sa.types.TypeEngine[dt.datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("jti", _key(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("expires_at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_actiondesk_revoked_tokens"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_revoked_tokens_expires_at", _TABLE, ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_actiondesk_revoked_tokens_expires_at", table_name=_TABLE)
    op.drop_table(_TABLE)
