"""The kinds of environment variable, each knowing how to read and check its own text.

``app.config`` declares every setting once with one of these; this module holds no setting of
its own. A value is read as stripped text (blank counts as unset, so the default applies) and
parsed by its kind; a value that cannot be used raises ``ConfigError`` naming the variable.
Secrets also accept a ``NAME_FILE`` twin holding the path of a file with the value, as Docker
secrets provide.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar, cast, dataclass_transform
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A variable holds a value the appliance cannot use; the message names it."""


@dataclass(frozen=True, kw_only=True)
class Variable(Generic[T]):
    """One environment variable. Subclasses say what its text means."""

    name: str
    # As a person would write it, and as .env.example and docs/configuration.md show it;
    # "" when there is none (the kind then decides what unset means).
    default: str = ""
    # The opening words of the variable's row in docs/configuration.md.
    doc: str
    # Also accepted as NAME_FILE, the path of a file holding the value; never logged.
    secret: bool = False

    def read(self, environ: Mapping[str, str]) -> T:
        text = _secret_text(environ, self.name) if self.secret else _text(environ, self.name)
        return self.parse(text or self.default)

    def parse(self, text: str) -> T:
        """The value of ``text`` ("" when unset and without a default)."""
        raise NotImplementedError

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.name}: {problem}")


def _text(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name, "").strip() or None


def _secret_text(environ: Mapping[str, str], name: str) -> str | None:
    direct = _text(environ, name)
    path = _text(environ, f"{name}_FILE")
    if direct and path:
        raise ConfigError(f"{name}: set either {name} or {name}_FILE, not both")
    if not path:
        return direct
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        # A binary file (a key saved in the wrong format) would otherwise end start-up with a
        # traceback instead of a message naming the variable.
        raise ConfigError(f"{name}_FILE: {path!r} is not UTF-8 text") from None
    if not value:
        raise ConfigError(f"{name}_FILE: {path!r} is empty")
    return value


@dataclass(frozen=True, kw_only=True)
class Text(Variable[str]):
    def parse(self, text: str) -> str:
        return text


@dataclass(frozen=True, kw_only=True)
class OptionalText(Variable[str | None]):
    def parse(self, text: str) -> str | None:
        return text or None


@dataclass(frozen=True, kw_only=True)
class Whole(Variable[int]):
    minimum: int
    maximum: int
    scale: int = 1  # e.g. 1024 * 1024: the variable counts MB, the setting bytes

    def parse(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise self.fail(f"expected a whole number, got {text!r}") from None
        if not self.minimum <= value <= self.maximum:
            raise self.fail(f"must be between {self.minimum} and {self.maximum}, got {value}")
        return value * self.scale


@dataclass(frozen=True, kw_only=True)
class Number(Variable[float]):
    minimum: float
    maximum: float

    def parse(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise self.fail(f"expected a number, got {text!r}") from None
        if not self.minimum <= value <= self.maximum:  # also refuses nan
            raise self.fail(f"must be between {self.minimum} and {self.maximum}, got {value}")
        return value


@dataclass(frozen=True, kw_only=True)
class Choice(Variable[str]):
    choices: tuple[str, ...]

    def parse(self, text: str) -> str:
        value = text.lower()
        if value not in self.choices:
            raise self.fail(f"must be one of {', '.join(self.choices)}; got {value!r}")
        return value


@dataclass(frozen=True, kw_only=True)
class Networks(Variable[tuple[Network, ...]]):
    """IPs and CIDRs separated by commas, spaces or newlines; an alias stands for several."""

    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def parse(self, text: str) -> tuple[Network, ...]:
        found: list[Network] = []
        for item in split_list(text):
            for address in self.aliases.get(item.lower(), (item,)):
                try:
                    found.append(ipaddress.ip_network(address, strict=False))
                except ValueError:
                    raise self.fail(f"{address!r} is not an IP address or CIDR") from None
        return tuple(found)


@dataclass(frozen=True, kw_only=True)
class KeyList(Variable[tuple[str, ...]]):
    """Separated by commas only: a key could in principle hold a space."""

    def parse(self, text: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True, kw_only=True)
class TimeZone(Variable[ZoneInfo]):
    def parse(self, text: str) -> ZoneInfo:
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: a key naming a directory of zones ("America") raises IsADirectoryError.
            raise self.fail(f"unknown time zone {text!r} (e.g. Europe/Berlin)") from None


@dataclass(frozen=True, kw_only=True)
class Url(Variable[str | None]):
    def parse(self, text: str) -> str | None:
        if not text:
            return None
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.fail("expected an http(s) URL such as https://inbox.example.com")
        return text.rstrip("/")


@dataclass(frozen=True, kw_only=True)
class Directory(Variable[Path]):
    def parse(self, text: str) -> Path:
        return Path(text).expanduser()


@dataclass(frozen=True, kw_only=True)
class OptionalPath(Variable[Path | None]):
    def parse(self, text: str) -> Path | None:
        return Path(text) if text else None


@dataclass(frozen=True, kw_only=True)
class DatabaseUrl(Variable[str]):
    """ "" when unset: the default lies in DATA_DIR, which ``load_settings`` knows."""

    def parse(self, text: str) -> str:
        if text and not text.startswith(("sqlite", "postgresql")):
            raise self.fail("only sqlite:/// and postgresql:// URLs are supported")
        return text


@dataclass(frozen=True, kw_only=True)
class ForEntrypoint(Variable[str]):
    """Read by the container's entrypoint (docker/entrypoint.sh) before Python starts."""

    def parse(self, text: str) -> str:
        return text


def split_list(text: str) -> list[str]:
    """Items separated by commas, spaces or newlines."""
    return [item for item in text.replace(",", " ").split() if item]


# ---- declaring Settings fields -------------------------------------------------------------

VARIABLE_KEY = "variable"  # where a Settings field keeps its Variable


def declared(variable: Variable[T]) -> T:
    """A ``Settings`` field read from ``variable``.

    Typed as the value so that mypy compares the variable's kind with the field's annotation;
    at run time it is a dataclass field without a default, carrying the variable.
    """
    return cast(T, field(metadata={VARIABLE_KEY: variable}))


C = TypeVar("C")


# Tells type checkers and linters that ``declared`` makes a field (a required one), not a default.
@dataclass_transform(frozen_default=True, field_specifiers=(declared,))
def settings_class(cls: type[C]) -> type[C]:
    return dataclass(frozen=True)(cls)
