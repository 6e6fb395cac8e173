"""What processing one delivery came to: its kind, the records stored, what was wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.models import ProcessStatus

MAX_ERRORS_KEPT = 20


@dataclass
class Result:
    kind: str = "unknown"
    records: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)
        elif len(self.errors) == MAX_ERRORS_KEPT:
            self.errors.append("… more errors not shown")

    @property
    def status(self) -> str:
        return ProcessStatus.FAILED if self.errors else ProcessStatus.PROCESSED
