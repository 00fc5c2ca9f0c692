"""Work for test jobs. A job runs in a worker process, so its work is a module-level class (picklable)
and talks to the test through files."""
from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tlcore.core.errors import DataError
from tlcore.runs.work import Work


@dataclass(frozen=True)
class Blocking:
    """Marks that it ran (the mark holds its process id), then reports a phase (where Cancel is noticed)
    until its release file appears."""

    signals: str  # a folder shared with the test
    name: str

    def ran(self) -> bool:
        return Path(self.signals, f"{self.name}.ran").exists()

    def pid(self) -> int:
        return int(Path(self.signals, f"{self.name}.ran").read_text() or 0)

    def release(self) -> None:
        Path(self.signals, f"{self.name}.release").touch()

    def __call__(self, callbacks, folder: Path) -> str:
        Path(self.signals, f"{self.name}.ran").write_text(str(os.getpid()))
        for cb in callbacks:
            cb.on_phase("Counting", 0, 10)  # the phase starts; then it is halfway until released
        while not Path(self.signals, f"{self.name}.release").exists():
            for cb in callbacks:
                cb.on_phase("Counting", 5, 10)
            time.sleep(0.02)
        return "done"


@dataclass(frozen=True)
class CopyRun:
    """A finished job whose run is a copy of an already saved one (a session that has just trained)."""

    saved: str

    def __call__(self, callbacks, folder: Path) -> list[str]:
        shutil.copytree(self.saved, folder / "run")
        return ["run"]


@dataclass(frozen=True)
class Facts:
    """Reports which process ran it and at what priority."""

    def __call__(self, callbacks, folder: Path) -> dict:
        return {"pid": os.getpid(), "nice": os.nice(0)}


@dataclass(frozen=True)
class Fails:
    """Raises a user's error, an unexpected error, or ends its process the way the kernel's
    out-of-memory killer does."""

    how: str

    def __call__(self, callbacks, folder: Path):
        if self.how == "user":
            raise DataError("Found 1 class (cats). Add a second class folder to the zip.")
        if self.how == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        raise ValueError("something odd")


def _meet(signals: str, index: int, parts: int, callbacks, folder: Path) -> int:
    """One part of Together: marks that it started, then waits (up to a minute) for every other part."""
    Path(signals, f"part-{index}.started").touch()
    deadline = time.monotonic() + 60
    while len(list(Path(signals).glob("part-*.started"))) < parts:
        if time.monotonic() > deadline:
            raise DataError(f"Part {index + 1} ran alone: the parts did not run side by side.")
        time.sleep(0.05)
    return os.getpid()


@dataclass(frozen=True)
class Together(Work):
    """Parts that can only finish when all of them run at the same time; each returns its process id."""

    signals: str
    count: int

    def parts(self) -> list:
        return [partial(_meet, self.signals, i, self.count) for i in range(self.count)]

    def gather(self, results: list) -> list:
        return results
