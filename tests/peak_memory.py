"""A server's peak memory over one stretch of work: Linux's high-water mark (VmHWM), reset at
the start (``clear_refs`` 5), so what the process used before (the sign-in's 64 MiB argon2
hash, start-up) does not hide what the work itself takes.
"""

from __future__ import annotations

from pathlib import Path

from servers import AppProcess


def _status_kb(app: AppProcess, field: str) -> int:
    assert app.proc is not None
    status = Path(f"/proc/{app.proc.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith(field)).split()[1])


class PeakMemory:
    """``with PeakMemory(app) as peak: …`` then ``peak.grown_mb``: the peak above the start."""

    def __init__(self, app: AppProcess) -> None:
        self.app = app
        self.start_kb = 0
        self.grown_mb = 0.0

    def __enter__(self) -> PeakMemory:
        assert self.app.proc is not None
        Path(f"/proc/{self.app.proc.pid}/clear_refs").write_text("5")
        self.start_kb = _status_kb(self.app, "VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.grown_mb = (_status_kb(self.app, "VmHWM") - self.start_kb) / 1024
