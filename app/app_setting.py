"""The ``app_setting`` table: small named values kept across restarts, one row per key.

``live_settings`` keeps the values entered under Settings here, and ``app.web.store`` the web
UI's own (the session secret, the password hash, the calendar link). Both sit above this module,
so the reads and writes of the table live here once. The writes are writer jobs
(``db.writer.run``).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select
from sqlmodel import col

from app.models import AppSetting, utcnow
from app.statements import upsert_insert


def get(connection: Connection, key: str) -> str | None:
    statement = select(col(AppSetting.value)).where(col(AppSetting.key) == key)
    return connection.execute(statement).scalar()


def put(connection: Connection, key: str, value: str) -> None:
    """Insert or replace."""
    now = utcnow()
    statement = upsert_insert(connection.dialect.name, AppSetting).values(
        key=key, value=value, updated_at=now
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["key"], set_={"value": value, "updated_at": now}
        )
    )


def remove(connection: Connection, *keys: str) -> None:
    connection.execute(delete(AppSetting).where(col(AppSetting.key).in_(keys)))
