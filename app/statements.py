"""Core statements compiled once per dialect and run straight on the DBAPI cursor.

``Connection.execute`` spends a fifth of a millisecond of Python per call on the machines we run
on (cache key, execution context, result object), against 10 to 30 µs for SQLite to do the work.
The ingest hot path runs five statements per lead, so that overhead alone held ingest to a few
hundred leads a second. A ``Prepared`` statement is still written with SQLAlchemy Core, so it
stays portable between SQLite and PostgreSQL, and keeps the column types' own conversions (naive
UTC datetimes, JSON); only the per-call machinery is skipped.

Use it for statements run for every delivery; everything else should use ``Connection.execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


def upsert_insert(dialect: str, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT, for the dialect named (SQLite and PostgreSQL both do)."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an ``INSERT … VALUES`` of one row made."""
    key = result.inserted_primary_key
    if key is None:
        raise TypeError("not the result of an INSERT of one row")
    return int(key[0])


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names in placeholder order, for "?" drivers
    constants: dict[str, Any]  # values the statement itself carries (literals, LIMIT 1)
    required: frozenset[str]
    processors: dict[str, Callable[[Any], Any]]


StatementOrBuilder = ClauseElement | Callable[[str], ClauseElement]


class Prepared:
    """One statement, or a builder taking the dialect's name for dialect-specific ones (ON
    CONFLICT); ``keys`` names the columns an INSERT sets, and every one must then be given."""

    def __init__(self, statement: StatementOrBuilder, keys: Iterable[str] = ()) -> None:
        self.statement = statement
        self.keys = list(keys)
        self._by_dialect: dict[str, _Compiled] = {}

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """Run on the connection's current transaction; returns the DBAPI cursor."""
        compiled = self._compiled(connection.dialect)
        arguments = _arguments(compiled, params)
        return run_sql(connection, compiled.sql, arguments)

    def execute_many(self, connection: Connection, rows: Iterable[Mapping[str, Any]]) -> Any:
        """One ``executemany`` for all ``rows`` (a group's leads: one statement, not one per
        lead); no RETURNING, so an INSERT's ids are given (``allocate_ids``)."""
        compiled = self._compiled(connection.dialect)
        arguments = [_arguments(compiled, row) for row in rows]
        return run_sql(connection, compiled.sql, arguments, many=True)

    def _compiled(self, dialect: Dialect) -> _Compiled:
        return self._by_dialect.get(dialect.name) or self._compile(dialect)

    def scalar(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None (RETURNING, or a lookup)."""
        row = self.execute(connection, params).fetchone()
        return None if row is None else row[0]

    def _compile(self, dialect: Dialect) -> _Compiled:
        statement = self.statement
        if not isinstance(statement, ClauseElement):
            statement = statement(dialect.name)
        compiled = statement.compile(dialect=dialect, column_keys=self.keys or None)
        # bind_names and positiontup are SQLCompiler internals (SQLAlchemy is pinned to 2.1).
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement!r}")
        constants: dict[str, Any] = {}
        required: set[str] = set()
        processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            if bind.unique:  # an anonymous literal of the statement's own
                constants[name] = bind.effective_value
            else:
                required.add(name)
            process = _processor(bind.type, dialect)
            if process is not None:
                processors[name] = process
        for name, value in list(constants.items()):
            if name in processors and value is not None:
                constants[name] = processors[name](value)
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        result = _Compiled(compiled.string, order, constants, frozenset(required), processors)
        self._by_dialect[dialect.name] = result
        return result


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    values = dict(compiled.constants)
    for name in compiled.required:
        try:
            value = params[name]
        except KeyError:
            raise KeyError(f"{compiled.sql!r} needs a value for {name!r}") from None
        process = compiled.processors.get(name)
        values[name] = value if process is None or value is None else process(value)
    return values if compiled.order is None else [values[n] for n in compiled.order]


def run_sql(connection: Connection, sql: str, arguments: Any, *, many: bool = False) -> Any:
    """The driver's own statement on the connection's transaction; returns the DBAPI cursor."""
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, arguments)
        else:
            cursor.execute(sql, arguments)
    except dialect.loaded_dbapi.Error as exc:
        # Wrapped as Connection.execute would: the writer tells storage trouble (disk full,
        # locked) from a job's own mistake by SQLAlchemy's exception classes.
        raise DBAPIError.instance(
            sql, arguments, exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc
    return cursor


def allocate_ids(connection: Connection, table: str, count: int) -> list[int]:
    """``count`` new primary keys of ``table`` (an integer ``id``), for an ``executemany``
    INSERT that cannot return them. Inside a writer job only: on SQLite the writer holds the
    write lock, so max(id) cannot move under it (and, with no AUTOINCREMENT, max + 1 is what
    SQLite itself would pick); on PostgreSQL they come from the column's own sequence."""
    if count == 0:
        return []
    if connection.dialect.name == "postgresql":
        sql = f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)"
        return [row[0] for row in run_sql(connection, sql, (count,)).fetchall()]
    (top,) = run_sql(connection, f"SELECT coalesce(max(id), 0) FROM {table}", ()).fetchone()
    return list(range(top + 1, top + 1 + count))


# Shared between statements, so that one ``now`` is converted once for all of a lead's rows.
_PROCESSORS: dict[tuple[str, str], Callable[[Any], Any] | None] = {}


def _processor(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    key = (dialect.name, repr(column_type))  # the repr names the type and its options
    if key not in _PROCESSORS:
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        _PROCESSORS[key] = None if process is None else _remembering_last(process)
    return _PROCESSORS[key]


def _remembering_last(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A group's rows carry the same ``now`` many times, between values of their own (each
    delivery's arrival time), and turning a datetime into SQLite's text costs more than the
    insert: the last two distinct objects are converted once each."""
    unseen = (object(), None)
    recent = (unseen, unseen)  # one tuple, so a swap is atomic between threads

    def process_once(value: Any) -> Any:
        nonlocal recent
        latest, before = recent
        if value is latest[0]:
            return latest[1]
        if value is before[0]:
            recent = (before, latest)
            return before[1]
        converted = process(value)
        recent = ((value, converted), latest)
        return converted

    return process_once
