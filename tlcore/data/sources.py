"""Turn a zip, a folder or in-page uploads into (class, file name, bytes) records."""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import DataError

JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
MAX_ENTRIES = 20_000
MAX_ENTRY_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Record:
    """One uploaded file with the class it was filed under."""

    label: str
    name: str
    data: bytes


@dataclass(frozen=True)
class Skipped:
    """A file left out, with the reason in plain words."""

    name: str
    reason: str


def _is_junk(parts: tuple[str, ...]) -> bool:
    return parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] in JUNK_NAMES


def _group_by_class(entries: list[tuple[tuple[str, ...], bytes]]):
    """Unwrap single top folders, then the first folder of each path is the class."""
    records, skipped = [], []
    while entries and all(len(p) > 2 for p, _ in entries) and len({p[0] for p, _ in entries}) == 1:
        entries = [(p[1:], d) for p, d in entries]
    for parts, data in entries:
        name = "/".join(parts)
        if len(parts) < 2:
            skipped.append(Skipped(name, "not inside a class folder; put it in a folder named after its class."))
        elif parts[-1].lower().endswith(".zip"):
            skipped.append(Skipped(name, "a zip inside the zip; unpack it first."))
        else:
            records.append(Record(parts[0], name, data))
    return records, skipped


def read_zip(source: bytes | str | Path) -> tuple[list[Record], list[Skipped]]:
    """Read a zip of class folders entirely in memory; nothing is written to disk."""
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise DataError("This file is not a valid .zip archive. Zip your class folders again and upload the .zip.") from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_ENTRIES:
        raise DataError(f"The zip holds {len(infos)} files; the limit is {MAX_ENTRIES}. Split it into smaller zips.")
    entries, skipped, total = [], [], 0
    for info in infos:
        parts = tuple(p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("", "."))
        if not parts or _is_junk(parts):
            continue
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            skipped.append(Skipped(info.filename, "unsafe path inside the zip (absolute or '..'); ignored."))
            continue
        with archive.open(info) as handle:
            data = handle.read(MAX_ENTRY_BYTES + 1)
        if len(data) > MAX_ENTRY_BYTES:
            skipped.append(Skipped(info.filename, f"larger than {MAX_ENTRY_BYTES // 2**20} MB."))
            continue
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            raise DataError(f"The zip unpacks to more than {MAX_TOTAL_BYTES // 2**30} GB. Use fewer or smaller images.")
        entries.append((parts, data))
    if not entries and not skipped:
        raise DataError("The zip is empty. Put one folder per class inside it, with the images in those folders.")
    records, more_skipped = _group_by_class(entries)
    return records, skipped + more_skipped


def read_folder(folder: str | Path) -> tuple[list[Record], list[Skipped]]:
    """Read a folder whose sub-folders are the classes."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"'{folder}' is not a folder. Give a folder of class folders or a .zip file.")
    entries = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if path.is_file() and not _is_junk(parts) and not any(p.startswith(".") for p in parts):
            entries.append((parts, path.read_bytes()))
    if not entries:
        raise DataError(f"The folder '{folder}' has no files. Put one sub-folder per class inside it.")
    return _group_by_class(entries)


def read_data_path(path: str | Path) -> tuple[list[Record], list[Skipped]]:
    """A folder of class folders or a .zip file, as given on the command line."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"'{path}' does not exist. Give a folder of class folders or a .zip file.")
    return read_folder(path) if path.is_dir() else read_zip(path)


def records_from_uploads(classes: dict[str, list[tuple[str, bytes]]]) -> list[Record]:
    """Images added per class in the page: {class name: [(file name, bytes), ...]}."""
    return [
        Record(label.strip(), f"{label.strip()}/{name}", data)
        for label, files in classes.items()
        if label.strip()
        for name, data in files
    ]
