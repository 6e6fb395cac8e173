"""LibreOffice Calc, headless, as the spreadsheet that opens our exports (Debian's
``libreoffice-calc-nogui``, which test.sh installs): missing, the tests that need it skip on a
developer's machine and fail under CI (``CI`` set), where it must be there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# LibreOffice's CSV filter: comma, double quote, UTF-8 (76), from line 1; the defaults for
# everything else, among them "evaluate formulas" on: we prove the cells never become one.
CSV_IN = "CSV:44,34,76,1"
# Written back as CSV: the values as shown, UTF-8.
CSV_OUT = "csv:Text - txt - csv (StarCalc):44,34,76,1"


def soffice() -> str:
    found = shutil.which("soffice")
    if found is None:
        message = "LibreOffice (soffice) missing: apt-get install libreoffice-calc-nogui"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def convert(source: Path, to: str, *, infilter: str | None = None) -> Path:
    """``source`` opened by LibreOffice Calc and saved as ``to`` (``xlsx``, or ``CSV_OUT``)
    in a folder of its own, with a profile of its own (concurrent runs do not share one)."""
    out = source.parent / f"{source.stem}-{to.split(':')[0]}"
    out.mkdir(exist_ok=True)
    profile = source.parent / "lo-profile"
    command = [soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless"]
    if infilter:
        command.append(f"--infilter={infilter}")
    command += ["--convert-to", to, "--outdir", str(out), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    made = list(out.iterdir())
    assert done.returncode == 0 and len(made) == 1, (done.stdout, done.stderr)
    return made[0]
