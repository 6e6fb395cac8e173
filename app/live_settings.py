"""The settings in force: the environment's, and what was entered in the browser where the
environment is silent, applied without a restart.

A variable set in the environment (non-empty, or its ``_FILE`` twin) wins and is shown read-only;
otherwise the value saved under Settings applies, else the default. Sign Keys are rows of their
own (``signing_key``); when ``WEBHOOK_SIGNING_KEY`` is set, only its keys verify. The other values
live in ``app_setting`` as the text a person typed, checked by the very ``Variable`` that reads
the environment, so a mistake gets the same message either way.

``current`` is replaced, never changed in place, after each save: a reader that takes it once per
request sees one consistent ``Settings``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from app import app_setting
from app.config import (
    SETTING_VARIABLES,
    ConfigError,
    Settings,
    Variable,
    check_combination,
    variables_set,
)
from app.db import Database
from app.models import AppSetting, Delivery, SigningKey, utcnow
from app.signature import key_fingerprint
from app.statements import inserted_id

__all__ = [
    "EDITABLE",
    "KEYS",
    "AddedKey",
    "ConfigError",
    "KeyInForce",
    "LiveSettings",
    "RecheckResult",
    "SignKey",
    "UnknownKey",
]

log = logging.getLogger(__name__)

KEYS = "WEBHOOK_SIGNING_KEY"
EDITABLE = (
    KEYS,
    "BASE_URL",
    "TZ",
    "WEBHOOK_ALLOWED_IPS",
    "UNSIGNED_EVENTS",
    "WEBHOOK_TOLERANCE_SECONDS",
)
STORED_PREFIX = "live:"  # app_setting key of a value entered in the browser: "live:TZ"
MAX_KEY_CHARS = 512
MAX_LABEL_CHARS = 100
MAX_VALUE_CHARS = 4000

# Each editable value's Settings attribute and Variable (the keys are handled apart).
_ATTRIBUTES: dict[str, str] = {
    variable.name: attribute
    for attribute, variable in SETTING_VARIABLES.items()
    if variable.name in EDITABLE and variable.name != KEYS
}
_VARIABLES: dict[str, Variable[Any]] = {
    name: SETTING_VARIABLES[attribute] for name, attribute in _ATTRIBUTES.items()
}


class UnknownKey(LookupError):
    """No stored Sign Key has that id (removed meanwhile?)."""


@dataclass(frozen=True)
class RecheckResult:
    """Quarantined deliveries verified again (``checked``) and accepted by a key now in force."""

    checked: int
    accepted: int


@dataclass(frozen=True)
class SignKey:
    """A Sign Key as a page shows it: never the secret."""

    id: int | None  # None: from WEBHOOK_SIGNING_KEY
    label: str
    fingerprint: str
    created_at: datetime | None
    from_environment: bool
    last_matched_at: datetime | None
    in_force: bool = True  # False: stored, but WEBHOOK_SIGNING_KEY is set and wins


@dataclass(frozen=True)
class KeyInForce:
    """A key that verifies deliveries now, with what a re-check records of it."""

    number: int  # 1-based position in ``current.signing_keys``
    label: str
    secret: str
    fingerprint: str


@dataclass(frozen=True)
class AddedKey:
    key: SignKey
    recheck: RecheckResult


@dataclass(frozen=True)
class _StoredKey:
    id: int
    label: str
    secret: str
    fingerprint: str
    created_at: datetime


# Re-verifies the quarantine with the keys now in force (app.recheck; given by the wiring, since
# that module sits above this one).
Recheck = Callable[[Database, "LiveSettings"], Awaitable[RecheckResult]]


class LiveSettings:
    def __init__(
        self,
        environment: Settings,
        environ: Mapping[str, str] | None = None,
        recheck: Recheck | None = None,
    ) -> None:
        self.environment = environment
        self.current = environment
        self._from_environment = variables_set(environ)
        self._recheck = recheck
        self._stored_keys: tuple[_StoredKey, ...] = ()
        self._stored_values: dict[str, str] = {}
        self._reloading = threading.Lock()
        self._db: Database | None = None

    # ---- what is in force, and where it comes from ----------------------------------------

    def set_by_environment(self, variable_name: str) -> bool:
        if variable_name == KEYS:
            return bool(self.environment.signing_keys)
        return variable_name in self._from_environment

    def text(self, variable_name: str) -> str:
        """The value as a person would type it: the environment's, the stored one, the default."""
        variable = _VARIABLES[variable_name]
        if self.set_by_environment(variable_name):
            return _as_text(getattr(self.environment, _ATTRIBUTES[variable_name]))
        return self._stored_values.get(variable_name, variable.default)

    def stored(self, variable_name: str) -> bool:
        """Whether a value entered in the browser is kept (in force unless the environment wins)."""
        return variable_name in self._stored_values

    def keys_in_force(self) -> tuple[KeyInForce, ...]:
        if self.environment.signing_keys:
            return tuple(
                KeyInForce(n, f"{KEYS} key {n}", secret, key_fingerprint(secret))
                for n, secret in enumerate(self.environment.signing_keys, start=1)
            )
        return tuple(
            KeyInForce(n, key.label, key.secret, key.fingerprint)
            for n, key in enumerate(self._stored_keys, start=1)
        )

    def keys(self, db: Database | None = None) -> list[SignKey]:
        """Every key, environment's first, with when each last verified a delivery."""
        db = db or self._db
        from_env = bool(self.environment.signing_keys)
        env_keys = [
            (f"{KEYS} key {n}", key_fingerprint(secret))
            for n, secret in enumerate(self.environment.signing_keys, start=1)
        ]
        fingerprints = [fp for _, fp in env_keys] + [k.fingerprint for k in self._stored_keys]
        last: dict[str, datetime | None] = {}
        if db is not None:
            with db.read() as connection:
                last = {fp: _last_matched(connection, fp) for fp in fingerprints}
        return [
            *(SignKey(None, label, fp, None, True, last.get(fp)) for label, fp in env_keys),
            *(
                SignKey(
                    k.id,
                    k.label,
                    k.fingerprint,
                    k.created_at,
                    False,
                    last.get(k.fingerprint),
                    in_force=not from_env,
                )
                for k in self._stored_keys
            ),
        ]

    # ---- loading -------------------------------------------------------------------------

    def reload(self, db: Database) -> None:
        """Read what the browser saved and put it in force (after migrations, after each save)."""
        with self._reloading:  # the last reload to run reads every commit before it
            with db.read() as connection:
                keys = _read_keys(connection)
                values = _read_values(connection)
            try:
                current = self._compose(values, keys)
            except ConfigError as exc:
                # A value fine when saved that no longer fits what the environment now says.
                log.error("settings saved in the browser are not applied: %s", exc)
                current = self._compose({}, keys)
            self._db = db
            self._stored_keys, self._stored_values = keys, values
            self.current = current

    def _compose(self, values: Mapping[str, str], keys: Sequence[_StoredKey]) -> Settings:
        changes: dict[str, Any] = {}
        for name, text in values.items():
            if name in _VARIABLES and not self.set_by_environment(name):
                variable = _VARIABLES[name]
                changes[_ATTRIBUTES[name]] = variable.parse(text or variable.default)
        if not self.environment.signing_keys:
            changes["signing_keys"] = tuple(key.secret for key in keys)
        settings = replace(self.environment, **changes)
        check_combination(settings)
        return settings

    # ---- changes from the browser --------------------------------------------------------

    async def save(self, db: Database, values: Mapping[str, str]) -> list[str]:
        """Check and store values (empty text clears one); the names that changed.

        Raises ``ConfigError`` naming the variable: a bad value, one the environment sets, or a
        combination that makes no sense (the same checks as at start-up)."""
        changes: dict[str, str] = {}
        for name, given in values.items():
            if name not in _VARIABLES:
                raise ConfigError(f"{name}: not a setting that can be changed here")
            if self.set_by_environment(name):
                raise ConfigError(f"{name}: set by {name} in the environment; change it there")
            text = given.strip()
            if len(text) > MAX_VALUE_CHARS:
                raise ConfigError(f"{name}: at most {MAX_VALUE_CHARS} characters")
            if text != self.text(name):
                _VARIABLES[name].parse(text or _VARIABLES[name].default)
                changes[name] = text
        if not changes:
            return []
        merged = {**self._stored_values, **changes}
        self._compose({k: v for k, v in merged.items() if v}, self._stored_keys)
        await db.writer.run(lambda c: _store_values(c, changes))
        await asyncio.to_thread(self.reload, db)
        return sorted(changes)

    async def add_key(self, db: Database, label: str, secret: str) -> AddedKey:
        """Store a Sign Key, put it in force, then accept what it verifies in the quarantine."""
        if self.environment.signing_keys:
            raise ConfigError(f"Sign Key: set by {KEYS} in the environment; change it there")
        secret = _checked_secret(secret)
        fingerprint = key_fingerprint(secret)
        known = next((k for k in self._stored_keys if k.fingerprint == fingerprint), None)
        if known is not None:
            raise ConfigError(f"Sign Key: already stored, as “{known.label}”")
        label = _checked_label(label) or f"Sign Key {len(self._stored_keys) + 1}"
        now = utcnow()
        row = {"label": label, "secret": secret, "fingerprint": fingerprint, "created_at": now}
        try:
            key_id = await db.writer.run(lambda c: _insert_key(c, row))
        except IntegrityError:  # the same key added twice at once
            raise ConfigError("Sign Key: already stored") from None
        await asyncio.to_thread(self.reload, db)
        key = SignKey(key_id, label, fingerprint, now, False, None)
        return AddedKey(key, await self.recheck(db))

    async def recheck(self, db: Database) -> RecheckResult:
        """Re-verify the quarantine with the keys in force now (nothing without a re-checker)."""
        return RecheckResult(0, 0) if self._recheck is None else await self._recheck(db, self)

    async def remove_key(self, db: Database, key_id: int) -> None:
        await db.writer.run(lambda c: _delete_key(c, key_id))
        await asyncio.to_thread(self.reload, db)

    async def relabel_key(self, db: Database, key_id: int, label: str) -> None:
        checked = _checked_label(label)
        if not checked:
            raise ConfigError("Label: give the key a name, e.g. the workspace it belongs to")
        await db.writer.run(lambda c: _relabel_key(c, key_id, checked))
        await asyncio.to_thread(self.reload, db)


def _as_text(value: Any) -> str:
    """A value read from the environment, written back as its variable would hold it."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    return str(getattr(value, "key", value))  # a ZoneInfo by its name


def _checked_secret(secret: str) -> str:
    secret = secret.strip()
    if not secret:
        raise ConfigError(
            "Sign Key: paste the Sign Key Hello Client shows under Workspace → Webhook"
        )
    if len(secret) > MAX_KEY_CHARS:
        raise ConfigError(f"Sign Key: at most {MAX_KEY_CHARS} characters")
    if not secret.isprintable():
        raise ConfigError("Sign Key: holds a line break or control character; copy it again")
    return secret


def _checked_label(label: str) -> str:
    label = " ".join(label.split())
    if len(label) > MAX_LABEL_CHARS:
        raise ConfigError(f"Label: at most {MAX_LABEL_CHARS} characters")
    return label


def _last_matched(connection: Connection, fingerprint: str) -> datetime | None:
    """Served by ix_delivery_key_fingerprint: only verified deliveries carry a fingerprint."""
    statement = select(func.max(col(Delivery.received_at))).where(
        col(Delivery.key_fingerprint) == fingerprint
    )
    return connection.execute(statement).scalar()


def _read_keys(connection: Connection) -> tuple[_StoredKey, ...]:
    rows = connection.execute(select(SigningKey).order_by(col(SigningKey.id))).all()
    return tuple(
        _StoredKey(row.id, row.label, row.secret, row.fingerprint, row.created_at) for row in rows
    )


def _read_values(connection: Connection) -> dict[str, str]:
    rows = connection.execute(
        select(col(AppSetting.key), col(AppSetting.value)).where(
            col(AppSetting.key).startswith(STORED_PREFIX)
        )
    ).all()
    return {key.removeprefix(STORED_PREFIX): value for key, value in rows}


def _store_values(connection: Connection, changes: Mapping[str, str]) -> None:
    for name, text in changes.items():
        if text:
            app_setting.put(connection, STORED_PREFIX + name, text)
        else:
            app_setting.remove(connection, STORED_PREFIX + name)


def _insert_key(connection: Connection, row: Mapping[str, Any]) -> int:
    return inserted_id(connection.execute(insert(SigningKey).values(**row)))


def _delete_key(connection: Connection, key_id: int) -> None:
    if connection.execute(delete(SigningKey).where(col(SigningKey.id) == key_id)).rowcount == 0:
        raise UnknownKey(f"no Sign Key {key_id}")


def _relabel_key(connection: Connection, key_id: int, label: str) -> None:
    statement = update(SigningKey).where(col(SigningKey.id) == key_id).values(label=label)
    if connection.execute(statement).rowcount == 0:
        raise UnknownKey(f"no Sign Key {key_id}")
