"""Run folders on disk: safe names, where a run may be written, the atomic swap that replaces one, the
runs folder and its listing. A folder is one of ours when its config.json names
FORMAT."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from ..core.errors import ConfigError, RunExists, RunPathError

FORMAT = "tlcore-run/1"


def run_folder_name(name: str) -> str:
    """A typed run name as a safe folder name: letters, digits, '.', '_' and '-' only, never hidden or
    a path (so '../x' or 'C:/x' stay inside the runs folder)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip(".-")[:80]
    if not safe:
        raise ConfigError("Give the run a name with some letters or digits, e.g. cats-vs-dogs.")
    return safe


def _aside(run_dir: Path) -> Path:
    return run_dir.with_name(f".{run_dir.name}.old")


def is_run(folder: str | Path) -> bool:
    """Whether a folder is one of our saved runs: its config.json names our format."""
    try:
        return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def recover(run_dir: Path) -> None:
    """A save killed between moving the previous run aside and moving the new one in leaves only the
    previous one, under its aside name: put it back."""
    if not run_dir.exists() and is_run(_aside(run_dir)):
        os.replace(_aside(run_dir), run_dir)


def check_run_target(run_dir: str | Path, *, overwrite: bool = True) -> Path:
    """The resolved folder a run may be written to: a folder of its own (not '.', '..' or a drive) that
    is absent, empty or one of our runs, and not inside a run. RunPathError says why not; an existing
    run with overwrite=False raises RunExists. Nothing the user keeps there is ever written over."""
    named = Path(run_dir)
    if named.name in ("", ".", ".."):
        raise RunPathError(f"'{run_dir}' does not name a folder of its own (it means {named.resolve()}).")
    target = named.resolve()
    recover(target)
    if not next(folder for folder in target.parents if folder.exists()).is_dir():
        raise RunPathError(f"'{run_dir}' is inside a file.")
    if target.exists() and not target.is_dir():
        raise RunPathError(f"'{run_dir}' is a file, not a folder.")
    if target.is_dir() and any(target.iterdir()) and not is_run(target):
        raise RunPathError(f"'{run_dir}' already holds files and is not a saved run, so nothing is written there.")
    holder = next((folder for folder in target.parents if is_run(folder)), None)
    if holder is not None:
        raise RunPathError(f"'{run_dir}' is inside the saved run '{holder}'.")
    if is_run(target) and not overwrite:
        raise RunExists(f"A saved run named '{target.name}' already exists. Choose another name.")
    return target


def swap_in(staging: Path, target: Path) -> None:
    """Move a finished staging folder to target; a previous run there is moved aside first and
    removed last, so a crash at any moment leaves one whole run."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.replace(staging, target)
        return
    old = _aside(target)
    if old.exists():
        if not is_run(old):
            raise RunPathError(f"The folder '{old}' beside the run is in the way. Move or rename it.")
        shutil.rmtree(old)
    os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def write_run(run_dir: str | Path, overwrite: bool, write: Callable[[Path], None]) -> Path:
    """Check the target (check_run_target), let `write` fill a staging folder beside it, then swap it
    in. Returns run_dir as the caller named it."""
    target = check_run_target(run_dir, overwrite=overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunPathError(f"The folder '{target.parent}' cannot be made ({exc.strerror or exc}).") from None
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(staging)
        swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Path(run_dir)


def runs_dir() -> Path:
    """Where the app saves runs: $TLCORE_RUNS_DIR, else ./runs."""
    return Path(os.environ.get("TLCORE_RUNS_DIR", "runs"))


def user_file_path(name: str, data: bytes) -> Path:
    """Keep an uploaded helper file (e.g. word vectors) beside the runs, so a run can name it by path."""
    path = runs_dir() / ".uploads" / Path(name).name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def list_runs(folder: str | Path | None = None) -> list[Path]:
    """Saved run folders, newest first."""
    folder = Path(folder) if folder else runs_dir()
    if not folder.is_dir():
        return []
    for aside in folder.glob(".*.old"):
        recover(aside.with_name(aside.name[1:-len(".old")]))
    runs = [p for p in folder.iterdir() if (p / "config.json").is_file() and not p.name.startswith(".")]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


def run_files(folder: Path) -> list[Path]:
    """Every file in a run folder and its sub-folders (validation/, tokenizer/), relative to it; links are
    left out."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
