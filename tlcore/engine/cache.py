"""Tensors computed once and reused: decoded images, token ids and frozen-boundary activations.

Every entry is written to disk (one folder of .npy files per key) so that a later process, the app
or the command line, finds it; recently used entries also stay in memory. An entry larger than the
memory budget comes back as DiskTensors, read a batch at a time. Beyond the disk budget the least
recently used entries are removed. Keys are tuples of plain values (content hashes, names, sizes).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .activations import Activations, DiskTensor
from ..core.settings import cache_settings

FORMAT = 1  # part of every key: a change of layout or numerics invalidates old entries
FLOAT16_MAX = 65504.0
Fill = Callable[[object], None]


# The only names this cache writes, and so the only ones it deletes (its folder may hold other files).
DIGEST = re.compile(r"[0-9a-f]{40}")  # an entry's folder
STAGING = re.compile(r"tmp-[0-9a-f]{32}")  # an entry being written

class RowWriter:
    """Writes rows straight into an .npy file (no memory map, so memory stays flat)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: torch.dtype):
        numpy_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        header = np.lib.format.open_memmap(path, mode="w+", dtype=numpy_dtype, shape=shape)
        self._offset, self._row_bytes = header.offset, header[0].nbytes if shape[0] else 0
        del header
        self._file = open(path, "r+b")
        self._lock = threading.Lock()
        self.shape = shape

    def __len__(self) -> int:
        return self.shape[0]

    def __setitem__(self, row: int, value: torch.Tensor) -> None:
        data = value.contiguous().numpy().tobytes()
        with self._lock:
            self._file.seek(self._offset + row * self._row_bytes)
            self._file.write(data)

    def close(self) -> None:
        self._file.close()


def _parts(value: Activations) -> list:
    return list(value) if isinstance(value, tuple) else [value]


def _memory_bytes(value: Activations) -> int:
    return sum(t.nbytes for t in _parts(value) if isinstance(t, torch.Tensor))


class TensorCache:
    """(key -> tensor or tuple of tensors) on disk under `folder` (None: memory only), with the most
    recently used entries kept in memory up to `memory_bytes`."""

    def __init__(self, folder: Path | None, *, memory_bytes: int = 1024**3, disk_bytes: int = 5 * 1024**3,
                 half_precision: bool = True):
        self.folder = Path(folder) if folder else None
        self.memory_bytes, self.disk_bytes, self.half_precision = memory_bytes, disk_bytes, half_precision
        self._memory: OrderedDict[str, Activations] = OrderedDict()
        self._lock = threading.Lock()

    def fetch(self, key: tuple, compute: Callable[[], Activations]) -> tuple[Activations, bool]:
        """The value for `key` and whether it was found (True) or computed now (False). float32 feature
        maps and hidden states (more than two dimensions) are stored as float16 when half_precision is on
        and they fit, and come back that way either way, so a hit gives exactly what a miss gives. Rows of
        pooled features stay float32 (they are small), so a frozen backbone's scores are exact."""
        digest = self._digest(key)
        found = self._find(digest)
        if found is not None:
            return found, True
        value = self._storable(compute())
        return self._store(digest, key, value), False

    def fetch_rows(self, key: tuple, shape: tuple[int, ...], dtype: torch.dtype,
                   fill: Fill) -> tuple[torch.Tensor | DiskTensor, bool]:
        """Like fetch, for data built row by row: `fill(out)` sets out[i] for every row. `out` is an
        in-memory tensor when the result fits the memory budget, else a writer to the disk file."""
        digest = self._digest(key)
        found = self._find(digest)
        if found is not None:
            return found, True
        size = int(np.prod(shape)) * torch.empty(0, dtype=dtype).element_size()
        if self.folder is not None and size > self.memory_bytes:
            try:
                return self._fill_on_disk(digest, key, shape, dtype, fill), False
            except OSError:
                pass  # no room on disk: build it in memory after all
        out = torch.empty(shape, dtype=dtype)
        fill(out)
        return self._store(digest, key, out), False

    def _fill_on_disk(self, digest: str, key: tuple, shape: tuple[int, ...], dtype: torch.dtype,
                      fill: Fill) -> DiskTensor:
        staging = self._staging()
        writer = RowWriter(staging / "0.npy", shape, dtype)
        try:
            fill(writer)
        finally:
            writer.close()
        self._commit(staging, digest, key)
        value = self._read(digest)
        self._remember(digest, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._memory.clear()
        if self.folder and self.folder.is_dir():
            for _, entry, _ in self._entries():
                shutil.rmtree(entry, ignore_errors=True)

    def disk_usage(self) -> int:
        return sum(size for _, _, size in self._entries())

    # memory tier

    def _find(self, digest: str) -> Activations | None:
        with self._lock:
            if digest in self._memory:
                self._memory.move_to_end(digest)
                return self._memory[digest]
        value = self._read(digest)
        if value is not None:
            self._remember(digest, value)
        return value

    def _remember(self, digest: str, value: Activations) -> None:
        with self._lock:
            self._memory[digest] = value
            self._memory.move_to_end(digest)
            while len(self._memory) > 1 and sum(map(_memory_bytes, self._memory.values())) > self.memory_bytes:
                self._memory.popitem(last=False)

    # disk tier

    @staticmethod
    def _digest(key: tuple) -> str:
        return hashlib.sha1(repr((FORMAT, key)).encode()).hexdigest()  # the entry's folder name: DIGEST

    def _storable(self, value: Activations) -> Activations:
        def store(t: torch.Tensor) -> torch.Tensor:
            t = t.detach().cpu()
            if self.half_precision and t.dtype == torch.float32 and t.dim() > 2 and t.numel():
                low, high = torch.aminmax(t)  # no |t| copy: activations can be large
                if max(-low, high) < FLOAT16_MAX:
                    return t.half()
            return t
        return tuple(store(t) for t in value) if isinstance(value, tuple) else store(value)

    def _store(self, digest: str, key: tuple, value: Activations) -> Activations:
        """Write to disk (when there is a folder and it works); returns what later lookups give."""
        if self.folder is not None:
            try:
                staging = self._staging()
                for i, part in enumerate(_parts(value)):
                    np.save(staging / f"{i}.npy", part.numpy())
                self._commit(staging, digest, key, is_tuple=isinstance(value, tuple))
                on_disk = self._read(digest) if _memory_bytes(value) > self.memory_bytes else None
                value = value if on_disk is None else on_disk  # too big: from now on, read a batch at a time
            except OSError:
                pass  # a full or read-only disk costs the reuse, never the run
        self._remember(digest, value)
        return value

    def _staging(self) -> Path:
        staging = self.folder / f"tmp-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        return staging

    def _commit(self, staging: Path, digest: str, key: tuple, is_tuple: bool = False) -> None:
        """Move a finished staging folder into place (atomically), then trim the disk tier."""
        parts = len(list(staging.glob("*.npy")))
        (staging / "entry.json").write_text(json.dumps({"key": repr(key), "parts": parts, "tuple": is_tuple}))
        try:
            os.replace(staging, self.folder / digest)
        except OSError:  # another process stored the same entry first
            shutil.rmtree(staging, ignore_errors=True)
        self._trim(keep=digest)

    def _read(self, digest: str) -> Activations | None:
        if self.folder is None:
            return None
        entry = self.folder / digest
        try:
            meta = json.loads((entry / "entry.json").read_text())
            os.utime(entry / "entry.json")  # most recently used
            parts = [DiskTensor.open(entry / f"{i}.npy") for i in range(meta["parts"])]
        except (OSError, ValueError, KeyError):
            return None
        if sum(p.nbytes for p in parts) <= self.memory_bytes:
            parts = [p.load() for p in parts]
        return tuple(parts) if meta["tuple"] else parts[0]

    def _entries(self) -> list[tuple[float, Path, int]]:
        """(last use, folder, bytes) of every complete entry on disk."""
        if self.folder is None or not self.folder.is_dir():
            return []
        found = []
        for entry in self.folder.iterdir():
            if not DIGEST.fullmatch(entry.name):
                continue  # not one of ours
            try:
                used = (entry / "entry.json").stat().st_mtime
            except OSError:
                continue
            found.append((used, entry, sum(f.stat().st_size for f in entry.iterdir())))
        return found

    def _trim(self, keep: str) -> None:
        """Remove least recently used entries beyond the disk budget, and staging folders left by a
        process that was killed while writing."""
        for stale in self.folder.glob("tmp-*"):
            if STAGING.fullmatch(stale.name) and time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        entries = sorted(self._entries())
        total = sum(size for _, _, size in entries)
        for _, entry, size in entries:
            if total <= self.disk_bytes:
                break
            if entry.name != keep:
                shutil.rmtree(entry, ignore_errors=True)
                total -= size
                with self._lock:
                    self._memory.pop(entry.name, None)


class RunCache:
    """One training run's use of a TensorCache: it notes what came from earlier runs and what this run
    computed (to tell the user), each entry once: what this run computed and then used again counts
    as computed."""

    def __init__(self, cache: TensorCache):
        self.cache = cache
        self.reused: set[str] = set()
        self.computed: set[str] = set()
        self._seen: set[tuple] = set()

    def _note(self, key: tuple, hit: bool, what: str) -> None:
        if key not in self._seen:
            (self.reused if hit else self.computed).add(what)
        self._seen.add(key)

    def fetch(self, key: tuple, compute: Callable[[], Activations], what: str) -> Activations:
        value, hit = self.cache.fetch(key, compute)
        self._note(key, hit, what)
        return value

    def fetch_rows(self, key: tuple, shape: tuple[int, ...], dtype: torch.dtype, fill: Fill,
                   what: str) -> torch.Tensor | DiskTensor:
        value, hit = self.cache.fetch_rows(key, shape, dtype, fill)
        self._note(key, hit, what)
        return value


@functools.cache
def default_cache() -> TensorCache:
    """The process-wide cache, configured by the settings (see tlcore.core.settings)."""
    settings = cache_settings()
    return TensorCache(settings.folder, memory_bytes=settings.memory_bytes, disk_bytes=settings.disk_bytes,
                       half_precision=settings.half_precision)
