"""The image half of an exported predict.py: image files or folders -> the run's pixels -> rows.
Copied into predict.py with image_file's source in place of its import (see script.py)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ...data.image_file import IMAGE_SUFFIXES, UnreadableImage, decode, resize_crop  # inlined

MB = 1024**2


def image_files(items: list[str]) -> list[Path]:
    """Every image file named, or found in a named folder (sorted); SystemExit says what is missing."""
    files = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise SystemExit(f"error: '{item}' does not exist. Give image files or folders of images.")
    if not files:
        raise SystemExit("error: no images found in the inputs. Give image files or folders of images.")
    return files


def pixels_of(path: str | Path, labels: dict) -> np.ndarray:
    """uint8 [3, size, size] as the model was trained to see the image; UnreadableImage says why not."""
    prep, limit, path = labels["preprocessing"], labels["limits"], Path(path)
    if path.stat().st_size > limit["max_file_mb"] * MB:
        raise UnreadableImage(f"larger than {limit['max_file_mb']} MB")
    image = decode(path.read_bytes(), path.name, max_megapixels=limit["max_megapixels"],
                   draft_size=prep["resize_size"])
    return resize_crop(image, prep["input_size"], prep["resize_size"], prep["interpolation"]).transpose(2, 0, 1)


def _read(path: Path, labels: dict) -> np.ndarray | str:
    """The image's pixels, or the reason it cannot be read."""
    try:
        return pixels_of(path, labels)
    except (UnreadableImage, OSError) as exc:
        return str(exc)


def classify(session, labels: dict, items: list[str], batch: int = 32) -> list[dict]:
    """One row per image file, in order: file, then its probabilities (or the problem that stopped it).
    Files are decoded in parallel threads (Pillow lets go of Python's lock while it decodes)."""
    rows = []
    files = image_files(items)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for start in range(0, len(files), batch):
            chunk = files[start:start + batch]
            read = list(pool.map(lambda path: _read(path, labels), chunk))
            rows += [{"file": str(path), "problem": r} if isinstance(r, str) else {"file": str(path)}
                     for path, r in zip(chunk, read)]
            pixels = [r for r in read if not isinstance(r, str)]
            if pixels:
                answered = (row for row in rows[-len(chunk):] if "problem" not in row)
                for row, p in zip(answered, session.run(["probabilities"], {"pixels": np.stack(pixels)})[0]):
                    row["proba"] = p
    return rows
