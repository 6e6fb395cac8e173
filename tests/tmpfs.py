"""A size-limited tmpfs for DATA_DIR (root only: CI runs as root), and a way to fill it up."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tiny_disk(directory: Path, size_mb: int) -> Iterator[Path]:
    """``directory`` made into a tmpfs of ``size_mb``, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (.ci/run runs as root)")
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:  # root without CAP_SYS_ADMIN (an unprivileged container)
        pytest.fail(f"mount -t tmpfs failed as root: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True, capture_output=True)


def fill(directory: Path, *, leave: int) -> Path:
    """Write a file until the filesystem refuses another byte, then give back ``leave`` bytes:
    the disk fills up during the deliveries, so some land on its last pages."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 4096, 1):  # big chunks, then whatever still fits
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        out.truncate(out.tell() - leave)
    return filler
