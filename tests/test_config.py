"""app.config: defaults, every refusal naming its variable, secrets from _FILE twins."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from app.config import (
    HELLO_CLIENT_IPS,
    SETTING_VARIABLES,
    VARIABLES,
    ConfigError,
    documented_names,
    load_settings,
)
from app.settings_spec import ForEntrypoint, Number, Whole

ROOT = Path(__file__).resolve().parent.parent


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    assert settings.host == "0.0.0.0"
    assert settings.port == 8080
    assert settings.data_dir == tmp_path
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'inbox.db'}"
    assert settings.is_sqlite
    assert settings.database_busy_timeout == 5.0
    assert settings.base_url is None
    assert settings.tz.key == "UTC"
    assert settings.log_level == "info"
    assert settings.signing_keys == ()
    assert settings.tolerance_seconds == 300
    assert settings.allowed_networks == ()
    assert settings.trusted_proxies == ()
    assert settings.unsigned_events == "quarantine"
    assert settings.max_body_bytes == 256 * 1024 * 1024
    assert settings.quarantine_max_items == 500
    assert settings.quarantine_max_bytes == 64 * 1024 * 1024
    assert settings.quarantine_rate_per_minute == 60
    assert settings.inbox_username == "admin"
    assert settings.inbox_password is None
    assert settings.api_token is None
    assert settings.apprise_urls is None
    assert settings.apprise_config is None
    assert settings.notify_rate_limit == 10
    assert settings.notify_rate_window_seconds == 60.0
    assert settings.notify_retry_first_seconds == 30.0
    assert settings.notify_retry_cap_seconds == 3600.0
    assert settings.notify_retry_max_hours == 24.0
    assert settings.notify_poll_seconds == 15.0
    assert settings.auth == "login"
    assert settings.auth_header is None


def test_blank_values_mean_the_default() -> None:
    settings = load_settings({"PORT": "  ", "TZ": "", "UNSIGNED_EVENTS": " "})
    assert (settings.port, settings.tz.key, settings.unsigned_events) == (8080, "UTC", "quarantine")


def test_values_are_read() -> None:
    settings = load_settings(
        {
            "PORT": " 9000 ",
            "TZ": "Europe/Berlin",
            "BASE_URL": "https://inbox.example.com/",
            "LOG_LEVEL": "DEBUG",
            "WEBHOOK_TOLERANCE_SECONDS": "0",
            "TRUSTED_PROXIES": "10.0.0.0/8\n172.16.0.1",
            "UNSIGNED_EVENTS": "Reject",
            "MAX_BODY_MB": "1",
            "DATABASE_BUSY_TIMEOUT_SECONDS": "0.25",
            "DATABASE_URL": "postgresql+psycopg://u:p@db/inbox",
        }
    )
    assert settings.port == 9000
    assert settings.tz.key == "Europe/Berlin"
    assert settings.base_url == "https://inbox.example.com"
    assert settings.log_level == "debug"
    assert settings.tolerance_seconds == 0
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("172.16.0.1/32"),
    )
    assert settings.unsigned_events == "reject"
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.database_busy_timeout == 0.25
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    "environ",
    [
        {"PORT": "abc"},
        {"PORT": "0"},
        {"PORT": "65536"},
        {"PORT": "80.5"},
        {"TZ": "Mars/Base"},
        {"TZ": "America"},  # a directory of zones, not a zone
        {"TZ": "../../etc/passwd"},
        {"TZ": "/etc/localtime"},
        {"BASE_URL": "ftp://x"},
        {"BASE_URL": "inbox.example.com"},
        {"BASE_URL": "https://"},
        {"WEBHOOK_ALLOWED_IPS": "300.1.1.1"},
        {"WEBHOOK_ALLOWED_IPS": "hello-client, 10.0.0.0/33"},
        {"TRUSTED_PROXIES": "proxy.local"},
        {"UNSIGNED_EVENTS": "maybe"},
        {"LOG_LEVEL": "verbose"},
        {"MAX_BODY_MB": "0"},
        {"MAX_BODY_MB": "-1"},
        {"WEBHOOK_TOLERANCE_SECONDS": "-1"},
        {"DATABASE_BUSY_TIMEOUT_SECONDS": "nan"},
        {"DATABASE_BUSY_TIMEOUT_SECONDS": "0"},
        {"QUARANTINE_MAX_ITEMS": "lots"},
        {"QUARANTINE_MAX_MB": "-5"},
        {"QUARANTINE_RATE_PER_MINUTE": "1e3"},
        {"DATABASE_URL": "mysql://user:pass@db/inbox"},
    ],
    ids=lambda environ: ",".join(f"{k}={v}" for k, v in environ.items()),
)
def test_bad_value_names_its_variable(environ: dict[str, str]) -> None:
    (name,) = environ
    with pytest.raises(ConfigError, match=rf"^{name}: "):
        load_settings(environ)


def test_accept_from_allowed_ips_needs_an_allowlist() -> None:
    with pytest.raises(ConfigError, match=r"^UNSIGNED_EVENTS: .*WEBHOOK_ALLOWED_IPS"):
        load_settings({"UNSIGNED_EVENTS": "accept-from-allowed-ips"})
    settings = load_settings(
        {"UNSIGNED_EVENTS": "accept-from-allowed-ips", "WEBHOOK_ALLOWED_IPS": "hello-client"}
    )
    assert settings.unsigned_events == "accept-from-allowed-ips"


def test_hello_client_alias_is_the_vendors_three_ips() -> None:
    # Straight from the vendor's document, "Webhook-Triggering IPs", Production.
    assert HELLO_CLIENT_IPS == ("138.91.187.181", "20.245.232.251", "51.116.103.131")
    settings = load_settings({"WEBHOOK_ALLOWED_IPS": "Hello-Client 192.0.2.0/24"})
    assert settings.allowed_networks == (
        ipaddress.ip_network("138.91.187.181/32"),
        ipaddress.ip_network("20.245.232.251/32"),
        ipaddress.ip_network("51.116.103.131/32"),
        ipaddress.ip_network("192.0.2.0/24"),
    )


def test_signing_keys_are_comma_separated() -> None:
    settings = load_settings({"WEBHOOK_SIGNING_KEY": " whsec_new , whsec old,,"})
    assert settings.signing_keys == ("whsec_new", "whsec old")


# ---- what is read, and within which bounds ---------------------------------------------


class RecordingEnviron(Mapping[str, str]):
    """An environment that notes every name looked up in it."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_load_settings_reads_exactly_the_declared_variables() -> None:
    """Nothing is read that is not declared (and so documented), and every declaration is read."""
    environ = RecordingEnviron()
    load_settings(environ)
    entrypoint_only = {v.name for v in VARIABLES if isinstance(v, ForEntrypoint)}
    assert environ.asked == set(documented_names()) - entrypoint_only


BOUNDED = [v for v in VARIABLES if isinstance(v, Whole | Number)]


@pytest.mark.parametrize("variable", BOUNDED, ids=lambda v: v.name)
def test_declared_bounds_are_inclusive_and_enforced(variable: Whole | Number) -> None:
    load_settings({variable.name: str(variable.minimum)})
    load_settings({variable.name: str(variable.maximum)})
    for outside in (variable.minimum - 1, variable.maximum + 1):
        with pytest.raises(ConfigError, match=rf"^{variable.name}: must be between"):
            load_settings({variable.name: str(outside)})


# ---- _FILE twins -------------------------------------------------------------------------


def test_secret_from_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("  whsec_from_file,whsec_second\n")
    settings = load_settings({"WEBHOOK_SIGNING_KEY_FILE": str(path)})
    assert settings.signing_keys == ("whsec_from_file", "whsec_second")


def attribute_of(name: str) -> str:
    (attribute,) = [a for a, variable in SETTING_VARIABLES.items() if variable.name == name]
    return attribute


@pytest.mark.parametrize("variable", [v.name for v in VARIABLES if v.secret])
def test_every_secret_is_read_from_its_file_twin(variable: str, tmp_path: Path) -> None:
    """Only NAME_FILE set: the setting holds the file's value, as if NAME had been set."""
    value = "sqlite:///from-file.db" if variable == "DATABASE_URL" else "from-file-s3cret"
    path = tmp_path / "secret"
    path.write_text(f"  {value}\n")
    attribute = attribute_of(variable)
    from_file = getattr(load_settings({f"{variable}_FILE": str(path)}), attribute)
    assert from_file == getattr(load_settings({variable: value}), attribute)
    assert from_file != getattr(load_settings({}), attribute)
    with pytest.raises(ConfigError, match=rf"^{variable}: set either"):
        load_settings({variable: "inline", f"{variable}_FILE": str(path)})


def test_secret_file_values_land_in_settings(tmp_path: Path) -> None:
    for name, value in [
        ("INBOX_PASSWORD", "pw"),
        ("API_TOKEN", "tok"),
        ("APPRISE_URLS", "json://x"),
    ]:
        (tmp_path / name).write_text(value + "\n")
    settings = load_settings(
        {f"{n}_FILE": str(tmp_path / n) for n in ("INBOX_PASSWORD", "API_TOKEN", "APPRISE_URLS")}
    )
    assert (settings.inbox_password, settings.api_token, settings.apprise_urls) == (
        "pw",
        "tok",
        "json://x",
    )


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^WEBHOOK_SIGNING_KEY_FILE: cannot read"):
        load_settings({"WEBHOOK_SIGNING_KEY_FILE": str(tmp_path / "absent")})


def test_directory_instead_of_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^API_TOKEN_FILE: cannot read"):
        load_settings({"API_TOKEN_FILE": str(tmp_path)})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("whsec")
    path.chmod(0)
    with pytest.raises(ConfigError, match=r"^WEBHOOK_SIGNING_KEY_FILE: cannot read"):
        load_settings({"WEBHOOK_SIGNING_KEY_FILE": str(path)})


def test_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"\xff\xfewhsec\x00")
    with pytest.raises(ConfigError, match=r"^WEBHOOK_SIGNING_KEY_FILE: "):
        load_settings({"WEBHOOK_SIGNING_KEY_FILE": str(path)})


@pytest.mark.parametrize("content", ["", " \n\n"], ids=repr)
def test_empty_file_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "key"
    path.write_text(content)
    with pytest.raises(ConfigError, match=r"^WEBHOOK_SIGNING_KEY_FILE: .* is empty"):
        load_settings({"WEBHOOK_SIGNING_KEY_FILE": str(path)})


# ---- python -m app -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("PORT", "abc"), ("WEBHOOK_ALLOWED_IPS", "300.1.1.1")])
def test_start_with_a_bad_value_exits_naming_the_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATA_DIR": str(tmp_path), name: value}
    done = subprocess.run(
        [sys.executable, "-m", "app"], env=env, cwd=ROOT, capture_output=True, timeout=60
    )
    assert done.returncode != 0
    stderr = done.stderr.decode()
    assert f"{name}: " in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "inbox.db").exists()  # stopped before touching anything
