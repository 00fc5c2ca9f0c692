"""Turn a zip, a folder or in-page uploads into (class, file name, bytes) records."""
from __future__ import annotations

import io
import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..core.errors import DataError
from ..core.settings import Limits, limits, readable
from .images import IMAGE_SUFFIXES

JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
MB = 1024 * 1024
DRIVE = re.compile(r"^[A-Za-z]:")


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


def class_name(raw: str) -> str:
    """A class name as typed or as a folder is named, in one Unicode form (NFC: a Mac's "e" + accent is "é")."""
    return unicodedata.normalize("NFC", raw).strip()


def _is_junk(parts: tuple[str, ...]) -> bool:
    return parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] in JUNK_NAMES


def _hidden_reason(parts: tuple[str, ...]) -> str | None:
    """Why an image inside a hidden folder (or a hidden image) is left out, with the fix; None if not hidden."""
    hidden = next((p for p in parts if p.startswith(".") and p != ".."), None)  # '..' is an unsafe path
    if hidden is None:
        return None
    if hidden == parts[-1]:
        return "a hidden file (its name starts with a dot); rename it without the dot to use it."
    return (f"in the hidden folder '{hidden}' (its name starts with a dot); rename the folder without the dot "
            "to use its images.")


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _left_out(parts: tuple[str, ...]) -> tuple[bool, str | None]:
    """(leave it out, reason to report): system junk and hidden non-images go silently; hidden images
    are reported, so a folder named '.cats' never vanishes without a word."""
    if _is_junk(parts):
        return True, None
    reason = _hidden_reason(parts)
    if reason is None:
        return False, None
    return True, reason if _is_image_name(parts[-1]) else None


def _too_large(size: int | None, limit: Limits) -> str:
    """The reason for a file over max_file_mb; size is None when only 'more than the limit' is known."""
    if size is None:
        return f"larger than {readable(limit.max_file_mb)} MB; {limit.says('max_file_mb')}."
    return f"too large ({readable(round(size / MB, 1))} MB); {limit.says('max_file_mb')}."


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
            records.append(Record(class_name(parts[0]), unicodedata.normalize("NFC", name), data))
    return records, skipped


def entry_parts(filename: str) -> tuple[str, ...]:
    """A zip entry's path as its parts, with either slash, empty parts and '.' left out."""
    return tuple(p for p in PurePosixPath(filename.replace("\\", "/")).parts if p not in ("", "."))


def unsafe_path(filename: str, parts: tuple[str, ...]) -> bool:
    """Zip slip: absolute paths, drive letters and '..' could point outside any folder."""
    return filename.startswith(("/", "\\")) or bool(DRIVE.match(filename)) or ".." in parts


def entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry is not read as a file (a link, or protected by a password); None when it can be."""
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a link, not a file; ignored."
    if info.flag_bits & 0x1:
        return "protected by a password; zip it again without one."
    return None


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> bytes | None:
    """The entry's bytes, reading at most max_bytes + 1 of them (declared sizes can lie); None if damaged."""
    try:
        with archive.open(info) as handle:
            return handle.read(max_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError):
        return None


def read_zip(source: bytes | str | Path, limit: Limits | None = None) -> tuple[list[Record], list[Skipped]]:
    """Read a zip of class folders entirely in memory (nothing is written to disk), within the limits."""
    limit = limit or limits()
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except Exception:  # any malformed header: arbitrary bytes must end here, not in a traceback
        raise DataError("This file is not a valid .zip archive. Zip your class folders again and upload the .zip.") from None
    if len(infos) > limit.max_files:
        raise DataError(f"The zip holds {len(infos):,} files; {limit.says('max_files')}. Split it into smaller zips.")
    max_entry, max_total = int(limit.max_file_mb * MB), int(limit.max_total_mb * MB)
    entries, skipped, total, junk = [], [], 0, 0
    for info in infos:
        parts = entry_parts(info.filename)
        left_out, reason = _left_out(parts) if parts else (True, None)
        if left_out:
            if reason:
                skipped.append(Skipped(info.filename, reason))
            else:
                junk += 1
            continue
        problem = "unsafe path inside the zip (absolute, a drive or '..'); ignored." \
            if unsafe_path(info.filename, parts) else entry_problem(info)
        data = None if problem else _read_entry(archive, info, max_entry)
        if not problem and data is None:
            problem = "damaged inside the zip; zip it again."
        elif data is not None and len(data) > max_entry:
            problem = _too_large(None, limit)
        if problem:
            skipped.append(Skipped(info.filename, problem))
            continue
        total += len(data)
        if total > max_total:
            raise DataError(f"The zip unpacks to more than {readable(limit.max_total_mb)} MB; {limit.says('max_total_mb')}. "
                            "Use fewer or smaller images.")
        entries.append((parts, data))
    if not entries and not skipped:
        raise DataError("The zip has only system files (such as __MACOSX) and no images. Put one folder per class "
                        "inside it, with the images in those folders." if junk else
                        "The zip is empty. Put one folder per class inside it, with the images in those folders.")
    records, more_skipped = _group_by_class(entries)
    return records, skipped + more_skipped


def read_file(path: str | Path, limit: Limits | None = None) -> bytes:
    """One file's bytes, refused before it is read when it is over the max_file_mb limit."""
    limit, path = limit or limits(), Path(path)
    size = path.stat().st_size
    if size > limit.max_file_mb * MB:
        raise DataError(f"'{path}' is {_too_large(size, limit)}")
    return path.read_bytes()


def read_folder(folder: str | Path, limit: Limits | None = None) -> tuple[list[Record], list[Skipped]]:
    """Read a folder whose sub-folders are the classes, within the same limits as a zip; each file's size
    is checked before it is read."""
    limit = limit or limits()
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"'{folder}' is not a folder. Give a folder of class folders or a .zip file.")
    files, skipped = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        parts = path.relative_to(root).parts
        left_out, reason = _left_out(parts)
        if reason:
            skipped.append(Skipped("/".join(parts), reason))
        elif not left_out:
            files.append((path, parts))
    if len(files) > limit.max_files:
        raise DataError(f"The folder holds {len(files):,} files; {limit.says('max_files')}. "
                        "Split it into smaller folders.")
    entries, total = [], 0
    for path, parts in files:
        size = path.stat().st_size
        if size > limit.max_file_mb * MB:
            skipped.append(Skipped("/".join(parts), _too_large(size, limit)))
            continue
        total += size
        if total > limit.max_total_mb * MB:
            raise DataError(f"The folder holds more than {readable(limit.max_total_mb)} MB; "
                            f"{limit.says('max_total_mb')}. Use fewer or smaller images.")
        entries.append((parts, path.read_bytes()))
    if not entries and not skipped:
        raise DataError(f"The folder '{folder}' has no files. Put one sub-folder per class inside it.")
    records, more_skipped = _group_by_class(entries)
    return records, skipped + more_skipped


def read_data_path(path: str | Path) -> tuple[list[Record], list[Skipped]]:
    """A folder of class folders or a .zip file, as given on the command line."""
    path, limit = Path(path), limits()
    if not path.exists():
        raise DataError(f"'{path}' does not exist. Give a folder of class folders or a .zip file.")
    if path.is_dir():
        return read_folder(path, limit)
    size = path.stat().st_size
    if size > limit.max_total_mb * MB:
        raise DataError(f"{path.name} is {readable(round(size / MB))} MB, more than a zip may unpack "
                        f"to; {limit.says('max_total_mb')}. Use fewer or smaller images.")
    return read_zip(path, limit)


def records_from_uploads(classes: dict[str, list[tuple[str, bytes]]],
                         limit: Limits | None = None) -> tuple[list[Record], list[Skipped]]:
    """Images added per class in the page: {class name: [(file name, bytes), ...]}. Files over the
    max_file_mb limit are skipped with the reason."""
    limit = limit or limits()
    added = [(class_name(label), name, data) for label, files in classes.items() if class_name(label)
             for name, data in files]
    if len(added) > limit.max_files:
        raise DataError(f"{len(added):,} images were added; {limit.says('max_files')}. Use fewer images per class.")
    records, skipped = [], []
    for label, name, data in added:
        if len(data) > limit.max_file_mb * MB:
            skipped.append(Skipped(f"{label}/{name}", _too_large(len(data), limit)))
        else:
            records.append(Record(label, unicodedata.normalize("NFC", f"{label}/{name}"), data))
    return records, skipped
