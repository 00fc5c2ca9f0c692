"""A run as one zip file and back. A zip is read the way uploads are: within size and entry limits,
no path outside the run, no links or passwords, and only the kinds of file a run holds. It is unpacked
once into the cache folder (keyed by its content) and then used like any saved run folder."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ..core.errors import RunLoadError
from ..core.settings import cache_settings, limits, readable
from ..data.sources import entry_parts, entry_problem, unsafe_path
from .checks import checked_config
from .folders import run_files, run_folder_name

MB = 1024**2
RUN_FILE_KINDS = {".safetensors", ".json", ".csv", ".jpg", ".txt"}  # model and tables, validation JPEGs, vocab
EXTRA_ENTRIES = 100  # beyond one JPEG per validation image: model, tables, tokenizer, an export's files


def zip_run(run_dir: str | Path) -> bytes:
    """The whole run folder as zip bytes (one top folder named like the run)."""
    folder = Path(run_dir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in run_files(folder):
            archive.write(folder / relative, f"{folder.resolve().name}/{relative.as_posix()}")
    return buffer.getvalue()


def is_run_zip(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix.lower() == ".zip" and path.is_file()


def _refuse(name: str, problem: str) -> RunLoadError:
    return RunLoadError(f"'{name}' cannot be opened as a saved run: {problem}. Download the run again from the "
                        "app (Evaluate, Download) or `python -m tlcore export RUN --format zip`.")


def _run_root(names: list[str], name: str) -> PurePosixPath:
    """The folder inside the zip holding the run's config.json: the top, or the shallowest folder (a run
    zip has one top folder; an export's zip holds the run in run/)."""
    configs = sorted((PurePosixPath(n).parent for n in names if PurePosixPath(n).name == "config.json"),
                     key=lambda p: len(p.parts))
    if not configs:
        raise _refuse(name, "it holds no config.json, so it is not a run (a zip of class folders goes on the Data page)")
    return configs[0]


def _entries(archive: zipfile.ZipFile, name: str) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The run's entries (the infos and their paths inside the run), each checked."""
    limit = limits()
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > limit.max_images + EXTRA_ENTRIES:
        raise _refuse(name, f"it holds {len(infos):,} files, more than a run of {limit.max_images:,} validation "
                            "images has")
    root = _run_root([i.filename for i in infos], name)
    chosen = []
    for info in infos:
        parts = entry_parts(info.filename)
        if unsafe_path(info.filename, parts):
            raise _refuse(name, f"the entry '{info.filename}' points outside the run")
        if parts[:len(root.parts)] != root.parts:
            continue  # an export's other files (model.onnx, predict.py, ...): not part of the run
        inner = PurePosixPath(*parts[len(root.parts):])
        if entry_problem(info):
            raise _refuse(name, f"'{info.filename}' is a link or protected by a password")
        if inner.suffix.lower() not in RUN_FILE_KINDS or any(p.startswith(".") for p in inner.parts):
            raise _refuse(name, f"'{info.filename}' is not a kind of file a run holds (only safetensors, JSON, "
                                "CSV, text and the validation JPEGs)")
        chosen.append((info, inner))
    return chosen


def _unpack(raw: bytes, name: str, target: Path) -> None:
    """Unpack the run's entries into target, counting the bytes as they come (declared sizes can lie)."""
    budget = int(limits().max_total_mb * MB)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = _entries(archive, name)
        if not entries:
            raise _refuse(name, "it holds no run files")
        for info, inner in entries:
            out = target.joinpath(*inner.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(out, "wb") as sink:
                while chunk := source.read(MB):
                    budget -= len(chunk)
                    if budget < 0:
                        raise _refuse(name, f"it unpacks to more than {readable(limits().max_total_mb)} MB "
                                            f"({limits().says('max_total_mb')})")
                    sink.write(chunk)
    except RunLoadError:
        raise
    except Exception:  # any malformed header or damaged entry: arbitrary bytes end here
        raise _refuse(name, "it is not a valid zip, or it is damaged") from None


def unpack_run(source: bytes | str | Path, name: str | None = None) -> Path:
    """The run folder a run zip (bytes or a path; `name` is how messages call it) unpacks to, checked
    to be one of ours and named like the zip. The same zip is unpacked once: later calls return the
    same folder."""
    if isinstance(source, bytes):
        raw, name = source, name or "the zip"
    else:
        if Path(source).stat().st_size > limits().max_total_mb * MB:
            raise _refuse(name or Path(source).name,
                          f"it is larger than {readable(limits().max_total_mb)} MB ({limits().says('max_total_mb')})")
        raw, name = Path(source).read_bytes(), name or Path(source).name
    holder = cache_settings().folder / "opened-runs" / hashlib.sha256(raw).hexdigest()[:24]
    target = holder / run_folder_name(PurePosixPath(name).stem or "run")
    if not (target / "config.json").is_file():
        holder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpacking.", dir=holder))
        try:
            _unpack(raw, name, staging)
            try:
                checked_config(staging)
            except RunLoadError as exc:
                raise _refuse(name, exc.user_message.replace(f"'{staging}' ", "it ").rstrip(".")) from None
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def run_location(path: str | Path) -> Path:
    """A run folder as given, or the folder a run zip unpacks to."""
    return unpack_run(path) if is_run_zip(path) else Path(path)
