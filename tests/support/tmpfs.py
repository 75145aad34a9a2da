"""A small tmpfs that a test fills to the last byte and frees again: a real ENOSPC, not a mock.

Mounting needs root; `mount_or_skip` skips the test (with the reason) where it cannot mount.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


class Tmpfs:
    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        self.ballast = path / "ballast"
        path.mkdir(exist_ok=True)
        self.mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                      capture_output=True, text=True, check=False)

    def fill(self) -> None:
        """Leave no room: write until the file system says it is full."""
        with open(self.ballast, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)

    def __enter__(self) -> "Tmpfs":
        return self

    def __exit__(self, *exc) -> None:
        self.unmount()


def mount_or_skip(path: Path, size: str) -> Tmpfs:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    fs = Tmpfs(path, size)
    if fs.mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {fs.mounted.stderr.strip()}")
    return fs
