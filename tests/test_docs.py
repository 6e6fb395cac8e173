"""The documentation stays true: every setting is documented as declared, nothing documented is
stale, and the tests the security doc names exist."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import VARIABLES, documented_names, load_settings
from app.settings_spec import Choice, ForEntrypoint

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
CONFIGURATION = ROOT / "docs" / "configuration.md"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"

# How docs/configuration.md opens the default of a variable without one: an en dash.
NO_DEFAULT = "\u2013"


def env_example_values() -> dict[str, list[str]]:
    """Each name set in .env.example, commented out or not, with the values shown for it."""
    found: dict[str, list[str]] = {}
    for name, value in re.findall(
        r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", ENV_EXAMPLE.read_text(), flags=re.MULTILINE
    ):
        found.setdefault(name, []).append(value.strip())
    return found


def configuration_rows() -> dict[str, tuple[str, str]]:
    """The table in docs/configuration.md: name -> (default cell, meaning cell)."""
    rows = re.findall(
        r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*(.*?)\s*\|\s*(.*?)\s*\|\s*$",
        CONFIGURATION.read_text(),
        flags=re.MULTILINE,
    )
    return {name: (default, meaning) for name, default, meaning in rows}


def test_every_variable_is_in_env_example() -> None:
    shown = env_example_values()
    assert [name for name in documented_names() if name not in shown] == []


def test_every_variable_is_in_configuration_doc() -> None:
    rows = configuration_rows()
    assert [name for name in documented_names() if name not in rows] == []


def test_docs_name_no_variable_the_app_does_not_read() -> None:
    declared = set(documented_names())
    assert set(env_example_values()) - declared == set()
    assert set(configuration_rows()) - declared == set()


def test_configuration_doc_gives_each_declared_default() -> None:
    rows = configuration_rows()
    wrong = {}
    for variable in VARIABLES:
        expected = f"`{variable.default}`" if variable.default else NO_DEFAULT
        cell = rows[variable.name][0]
        if not cell.startswith(expected):
            wrong[variable.name] = (cell, expected)
    assert wrong == {}


def test_env_example_shows_each_declared_default() -> None:
    """A commented-out line shows what leaving it alone means; examples only where none."""
    shown = env_example_values()
    wrong = {
        variable.name: (shown[variable.name], variable.default)
        for variable in VARIABLES
        if variable.default and variable.default not in shown[variable.name]
    }
    assert wrong == {}


def test_configuration_doc_opens_each_row_with_its_declared_doc_line() -> None:
    rows = configuration_rows()
    wrong = {
        variable.name: (rows[variable.name][1][: len(variable.doc) + 20], variable.doc)
        for variable in VARIABLES
        if not rows[variable.name][1].startswith(variable.doc)
    }
    assert wrong == {}


def test_configuration_doc_calls_exactly_the_secrets_secret() -> None:
    rows = configuration_rows()
    said_secret = {variable.name for variable in VARIABLES if "Secret" in rows[variable.name][1]}
    assert said_secret == {variable.name for variable in VARIABLES if variable.secret}


def test_file_twins_are_documented_as_files() -> None:
    rows = configuration_rows()
    for variable in VARIABLES:
        if variable.secret:
            twin = f"{variable.name}_FILE"
            assert rows[twin] == (NO_DEFAULT, f"File holding `{variable.name}`.")
            assert twin in env_example_values()


def test_every_choice_is_documented() -> None:
    rows = configuration_rows()
    missing = [
        f"{variable.name}={choice}"
        for variable in VARIABLES
        if isinstance(variable, Choice)
        for choice in variable.choices
        if f"`{choice}`" not in rows[variable.name][1]
    ]
    assert missing == []


def test_env_example_as_written_is_accepted(tmp_path: Path) -> None:
    """Every value in .env.example, uncommented together, is a configuration that starts.

    ``_FILE`` lines are left out (they point at files that do not exist here, and a secret may
    not be given both ways), and so are the entrypoint's variables, which Python never reads.
    """
    entrypoint_only = {v.name for v in VARIABLES if isinstance(v, ForEntrypoint)}
    environ = {
        name: values[-1]
        for name, values in env_example_values().items()
        if not name.endswith("_FILE") and name not in entrypoint_only
    }
    environ["DATA_DIR"] = str(tmp_path)
    load_settings(environ)


PYTHON_READ = re.compile(r"""(?:environ(?:\.get\(|\[)|getenv\()\s*["']([A-Z][A-Z0-9_]*)["']""")


def test_the_environment_is_read_only_in_config() -> None:
    """Reading os.environ elsewhere would let an undocumented variable slip in."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "app").rglob("*.py")
        if path.name != "config.py" and re.search(r"os\.environ|getenv\(", path.read_text())
    ]
    assert offenders == []


def test_every_variable_named_in_app_code_is_declared() -> None:
    named = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "app").rglob("*.py")
        for name in PYTHON_READ.findall(path.read_text())
        if name not in documented_names()
    }
    assert named == set()


def test_the_entrypoint_reads_exactly_its_declared_variables() -> None:
    read = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", ENTRYPOINT.read_text()))
    assert read - set(documented_names()) == set()
    entrypoint_only = {v.name for v in VARIABLES if isinstance(v, ForEntrypoint)}
    assert entrypoint_only - read == set()  # a declared variable nothing reads is stale


def test_readme_gives_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./serve.sh" in readme
    assert "./test.sh" in readme
    assert (
        "bash test.sh" in (ROOT / ".ci" / "run").read_text()
        or "./test.sh" in (ROOT / ".ci" / "run").read_text()
    )


TEST_REFERENCE = re.compile(r"`(test_\w+\.py)::(test_\w+)`")


def test_security_doc_names_only_tests_that_exist() -> None:
    """docs/security.md says which test shows each defence: every one named must exist."""
    text = (ROOT / "docs" / "security.md").read_text()
    references = TEST_REFERENCE.findall(text)
    assert len(references) >= 30, "the reference pattern no longer matches the doc"
    missing = [
        f"{file}::{name}"
        for file, name in references
        if not (ROOT / "tests" / file).exists()
        or not re.search(
            rf"^(async )?def {name}\(", (ROOT / "tests" / file).read_text(), re.MULTILINE
        )
    ]
    assert missing == []
