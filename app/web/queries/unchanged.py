"""Values a page reads again and again, kept with the pooled SQLite connection for as long as
the database is unchanged."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar, cast

from sqlalchemy import Connection

Value = TypeVar("Value")


def while_unchanged(
    connection: Connection, key: str, depends_on: Hashable, compute: Callable[[], Value]
) -> Value:
    """``compute()``, kept in the connection's ``info`` under ``key`` (with ``depends_on``,
    what else it was computed from) and reused while nothing was written: ``PRAGMA
    data_version`` changes when any other connection commits (read in this transaction's
    snapshot, like the value), ``total_changes`` when this one writes. SQLite only.
    """
    state = (
        connection.exec_driver_sql("PRAGMA data_version").scalar(),
        connection.connection.dbapi_connection.total_changes,  # type: ignore[union-attr]
        depends_on,
    )
    cached = connection.info.get(key)
    if cached is not None and cached[0] == state:
        return cast(Value, cached[1])
    value = compute()
    connection.info[key] = (state, value)
    return value
