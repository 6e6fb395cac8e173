"""app.live_settings: what the browser saves is checked like the environment, stored, and in force
at once; a variable set in the environment wins; Sign Keys are added, labelled and removed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from app.config import ConfigError, Settings, load_settings
from app.db import Database
from app.live_settings import LiveSettings, RecheckResult
from app.models import Delivery, Outcome, utcnow
from app.signature import key_fingerprint


def environment(tmp_path: Path, **env: str) -> tuple[Settings, dict[str, str]]:
    environ = {"DATA_DIR": str(tmp_path / "db"), **env}
    return load_settings(environ), environ


def live_for(tmp_path: Path, db: Database, **env: str) -> LiveSettings:
    settings, environ = environment(tmp_path, **env)
    live = LiveSettings(settings, environ)
    live.reload(db)
    return live


def error_of(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    return str(raised.value)


def test_saved_values_are_in_force_at_once_and_after_a_restart(
    tmp_path: Path, db: Database
) -> None:
    live = live_for(tmp_path, db)
    before = live.current
    changed = asyncio.run(
        live.save(
            db,
            {
                "BASE_URL": "https://inbox.example.com/",
                "TZ": "Asia/Tokyo",
                "WEBHOOK_ALLOWED_IPS": "hello-client, 10.0.0.0/8",
                "UNSIGNED_EVENTS": "accept-from-allowed-ips",
                "WEBHOOK_TOLERANCE_SECONDS": "900",
            },
        )
    )
    assert changed == sorted(
        ["BASE_URL", "TZ", "WEBHOOK_ALLOWED_IPS", "UNSIGNED_EVENTS", "WEBHOOK_TOLERANCE_SECONDS"]
    )
    now = live.current
    assert now is not before and before.base_url is None and before.tz.key == "UTC"  # replaced
    assert now.base_url == "https://inbox.example.com"
    assert now.tz.key == "Asia/Tokyo"
    assert [str(n) for n in now.allowed_networks] == [
        "138.91.187.181/32",
        "20.245.232.251/32",
        "51.116.103.131/32",
        "10.0.0.0/8",
    ]
    assert (now.unsigned_events, now.tolerance_seconds) == ("accept-from-allowed-ips", 900)
    assert live.text("WEBHOOK_ALLOWED_IPS") == "hello-client, 10.0.0.0/8"  # as typed

    restarted = live_for(tmp_path, db)
    assert restarted.current.tz.key == "Asia/Tokyo"
    assert restarted.current.tolerance_seconds == 900


def test_empty_text_clears_a_value_back_to_the_default(tmp_path: Path, db: Database) -> None:
    live = live_for(tmp_path, db)
    asyncio.run(live.save(db, {"TZ": "Europe/Berlin"}))
    assert live.stored("TZ")
    asyncio.run(live.save(db, {"TZ": ""}))
    assert not live.stored("TZ")
    assert live.current.tz.key == "UTC"


def test_unchanged_values_are_not_stored(tmp_path: Path, db: Database) -> None:
    live = live_for(tmp_path, db)
    assert asyncio.run(live.save(db, {"TZ": "UTC", "UNSIGNED_EVENTS": "quarantine"})) == []
    assert not live.stored("TZ") and not live.stored("UNSIGNED_EVENTS")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("BASE_URL", "ftp://inbox.example.com"),
        ("TZ", "Mars/Olympus"),
        ("WEBHOOK_ALLOWED_IPS", "10.0.0.300"),
        ("UNSIGNED_EVENTS", "sometimes"),
        ("WEBHOOK_TOLERANCE_SECONDS", "-5"),
    ],
)
def test_a_bad_value_gets_the_environments_own_message(
    tmp_path: Path, db: Database, name: str, text: str
) -> None:
    live = live_for(tmp_path, db)
    expected = error_of({"DATA_DIR": str(tmp_path / "db"), name: text})
    with pytest.raises(ConfigError) as raised:
        asyncio.run(live.save(db, {name: text}))
    assert str(raised.value) == expected
    assert str(raised.value).startswith(f"{name}: ")
    assert not live.stored(name)


def test_a_combination_that_makes_no_sense_is_refused_as_at_start(
    tmp_path: Path, db: Database
) -> None:
    live = live_for(tmp_path, db)
    expected = error_of(
        {"DATA_DIR": str(tmp_path / "db"), "UNSIGNED_EVENTS": "accept-from-allowed-ips"}
    )
    with pytest.raises(ConfigError) as raised:
        asyncio.run(live.save(db, {"UNSIGNED_EVENTS": "accept-from-allowed-ips"}))
    assert str(raised.value) == expected
    assert live.current.unsigned_events == "quarantine"


def test_a_variable_set_in_the_environment_wins_and_cannot_be_saved(
    tmp_path: Path, db: Database
) -> None:
    browser = live_for(tmp_path, db)
    asyncio.run(browser.save(db, {"TZ": "Asia/Tokyo", "BASE_URL": "https://a.example"}))
    asyncio.run(browser.add_key(db, "Browser", "browser-key"))

    live = live_for(tmp_path, db, TZ="Europe/Berlin", WEBHOOK_SIGNING_KEY="env-key")
    assert live.set_by_environment("TZ") and live.set_by_environment("WEBHOOK_SIGNING_KEY")
    assert not live.set_by_environment("BASE_URL")
    assert live.current.tz.key == "Europe/Berlin"  # the environment's, not the stored one
    assert live.current.base_url == "https://a.example"  # not set there: the browser's
    assert live.current.signing_keys == ("env-key",)  # only the environment's keys verify
    with pytest.raises(ConfigError, match="TZ: set by TZ in the environment"):
        asyncio.run(live.save(db, {"TZ": "Asia/Tokyo"}))
    with pytest.raises(ConfigError, match="set by WEBHOOK_SIGNING_KEY in the environment"):
        asyncio.run(live.add_key(db, "Another", "another-key"))
    shown = live.keys(db)
    assert [(k.from_environment, k.in_force) for k in shown] == [(True, True), (False, False)]
    assert shown[0].fingerprint == key_fingerprint("env-key")


def test_a_secret_file_twin_counts_as_set_in_the_environment(tmp_path: Path, db: Database) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\n")
    live = live_for(tmp_path, db, WEBHOOK_SIGNING_KEY_FILE=str(key_file))
    assert live.set_by_environment("WEBHOOK_SIGNING_KEY")
    assert live.current.signing_keys == ("from-a-file",)


def test_keys_are_added_in_order_labelled_and_removed(tmp_path: Path, db: Database) -> None:
    rechecks: list[tuple[str, ...]] = []

    async def recheck(db: Database, current: LiveSettings) -> RecheckResult:
        rechecks.append(current.current.signing_keys)
        return RecheckResult(4, 1)

    settings, environ = environment(tmp_path)
    live = LiveSettings(settings, environ, recheck=recheck)
    live.reload(db)
    old = asyncio.run(live.add_key(db, " Old  workspace ", "  key-old  "))
    new = asyncio.run(live.add_key(db, "", "key-new"))
    assert (old.key.label, old.key.fingerprint) == ("Old workspace", key_fingerprint("key-old"))
    assert new.key.label == "Sign Key 2"
    assert new.recheck == RecheckResult(4, 1)
    assert rechecks == [("key-old",), ("key-old", "key-new")]  # re-checked with the key in force
    assert live.current.signing_keys == ("key-old", "key-new")

    with pytest.raises(ConfigError, match="already stored, as “Old workspace”"):
        asyncio.run(live.add_key(db, "again", "key-old"))
    asyncio.run(live.relabel_key(db, new.key.id or 0, "New workspace"))
    assert [k.label for k in live.keys(db)] == ["Old workspace", "New workspace"]

    asyncio.run(live.remove_key(db, old.key.id or 0))
    assert live.current.signing_keys == ("key-new",)
    assert [k.label for k in live_for(tmp_path, db).keys(db)] == ["New workspace"]


@pytest.mark.parametrize(
    ("secret", "message"),
    [("   ", "Sign Key: paste"), ("a\nb", "line break"), ("x" * 513, "at most 512")],
)
def test_a_sign_key_that_cannot_be_one_is_refused(
    tmp_path: Path, db: Database, secret: str, message: str
) -> None:
    live = live_for(tmp_path, db)
    with pytest.raises(ConfigError, match=message):
        asyncio.run(live.add_key(db, "", secret))
    assert live.keys() == []


def test_last_matched_is_the_latest_delivery_the_key_verified(tmp_path: Path, db: Database) -> None:
    live = live_for(tmp_path, db)
    added = asyncio.run(live.add_key(db, "Office", "office-key"))
    assert live.keys()[0].last_matched_at is None
    latest = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    rows = [
        {
            "received_at": latest - timedelta(minutes=minutes),
            "client_ip": "127.0.0.1",
            "outcome": Outcome.ACCEPTED,
            "status_code": 200,
            "key_fingerprint": fingerprint,
            "body_sha256": f"{minutes}-{fingerprint}",
        }
        for minutes, fingerprint in ((60, added.key.fingerprint), (0, added.key.fingerprint))
    ]
    rows.append(
        {**rows[0], "received_at": utcnow(), "key_fingerprint": "other", "body_sha256": "x"}
    )
    db.writer.run_sync(lambda c: c.execute(insert(Delivery), rows))
    assert live.keys()[0].last_matched_at == latest
