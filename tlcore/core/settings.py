"""Settings a person may change: where the caches live and how much memory and disk they use, whether
to compute in mixed precision, the limits on what users may upload, and how training jobs share the machine.

Each value comes from an environment variable if set, else from a TOML settings file, else the
default. The file is the one named by TLCORE_SETTINGS, or `tlcore.toml` in the current folder:

    [cache]
    dir = "/data/tlcore-cache"   # default: the user's cache folder
    disk_gb = 5                  # least recently used entries are removed beyond this
    memory_gb = 1                # decoded images and activations beyond this are read from disk
    half_precision = true        # store feature maps and hidden states as float16 where they fit

    [engine]
    mixed_precision = true       # bfloat16 on GPUs and on CPUs with bf16 in hardware

    [limits]                     # see Limits below; the repository's tlcore.toml lists them all

    [jobs]
    max_running = 1              # training jobs on the device at once; the others wait in a queue
    abandoned_minutes = 60       # a job nobody has looked at for this long is stopped and forgotten
    backend = "local"            # or "ray": jobs run on a Ray cluster (TLCORE_JOBS_BACKEND)
    ray_address = "local"        # the cluster's head, host:port (TLCORE_RAY_ADDRESS; "local": a Ray on this machine)
    cpus_per_job = 1             # on a cluster without GPUs, the processors each job (or part of one) asks for
"""
from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

GB = 1024**3


@dataclass(frozen=True)
class CacheSettings:
    folder: Path
    disk_bytes: int
    memory_bytes: int
    half_precision: bool


def _default_cache_folder() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tlcore", appauthor=False))


def _settings_file() -> dict:
    path = Path(os.environ.get("TLCORE_SETTINGS", "tlcore.toml"))
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _parsed(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _parsed(path: str, mtime_ns: int, size: int) -> dict:
    """The file's tables, parsed once per change (settings are read per batch and per image)."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The settings file {path} is not valid TOML ({exc}). Fix or remove it.") from None


def _flag(env: str, table: dict, key: str, default: bool) -> bool:
    return str(os.environ.get(env, table.get(key, default))).lower() not in ("0", "false", "no", "off")


def _number(env: str, table: dict, key: str, default: float, minimum: float = 0) -> float:
    raw = os.environ.get(env, table.get(key, default))
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"The setting {key} ({env}) must be a number, not '{raw}'.") from None
    if value < minimum:
        raise ConfigError(f"The setting {key} ({env}) must be {minimum:g} or more, not {value:g}.")
    return value


def cache_settings() -> CacheSettings:
    table = _settings_file().get("cache", {})
    folder = os.environ.get("TLCORE_CACHE_DIR") or table.get("dir") or _default_cache_folder()
    return CacheSettings(
        folder=Path(folder).expanduser(),
        disk_bytes=int(_number("TLCORE_CACHE_DISK_GB", table, "disk_gb", 5) * GB),
        memory_bytes=int(_number("TLCORE_CACHE_MEMORY_GB", table, "memory_gb", 1) * GB),
        half_precision=_flag("TLCORE_HALF_PRECISION", table, "half_precision", True),
    )


@dataclass(frozen=True)
class EngineSettings:
    mixed_precision: bool


def engine_settings() -> EngineSettings:
    table = _settings_file().get("engine", {})
    return EngineSettings(mixed_precision=_flag("TLCORE_MIXED_PRECISION", table, "mixed_precision", True))


def readable(value: float) -> str:
    """1000000 -> '1,000,000', 1024.0 -> '1,024', 0.5 -> '0.5' (never '1e+06')."""
    return f"{value:,.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Limits:
    """What one user may bring in; classroom defaults. Each is `[limits] name` in the settings file, or
    the environment variable TLCORE_<NAME> (e.g. TLCORE_MAX_IMAGES)."""

    max_files: int = 5_000           # files in one zip or one upload
    max_file_mb: float = 50          # one file, unpacked
    max_total_mb: float = 1_024      # one zip, unpacked (counted as it unpacks: declared sizes can lie)
    max_megapixels: float = 60       # one image (bigger ones are refused; all are scaled down to the input)
    max_images: int = 10_000         # readable images in one dataset
    max_text_rows: int = 100_000     # rows in one table
    max_text_chars: int = 100_000    # one text; longer ones are cut (backbones read a few hundred words)
    max_classes: int = 200           # distinct labels
    max_request_items: int = 64      # images or texts in one request to the prediction service

    def says(self, name: str) -> str:
        """A limit as a message states it: its value and the setting that changes it."""
        unit = " MB" if name.endswith("_mb") else ""
        return f"the limit is {readable(getattr(self, name))}{unit} (setting {name} in tlcore.toml)"


def limits() -> Limits:
    table = _settings_file().get("limits", {})
    values = {}
    for name, spec in Limits.__dataclass_fields__.items():
        value = _number(f"TLCORE_{name.upper()}", table, name, spec.default, minimum=1)
        values[name] = int(value) if spec.type == "int" else value
    return Limits(**values)


BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class JobSettings:
    max_running: int
    abandoned_s: float
    backend: str = "local"  # "local": worker processes on this machine; "ray": a Ray cluster
    ray_address: str = "local"
    cpus_per_job: float = 1


def job_settings() -> JobSettings:
    """The [jobs] table. TLCORE_RAY_ADDRESS means the Ray backend, unless TLCORE_JOBS_BACKEND says otherwise."""
    table = _settings_file().get("jobs", {})
    address = os.environ.get("TLCORE_RAY_ADDRESS")
    backend = str(os.environ.get("TLCORE_JOBS_BACKEND") or ("ray" if address else table.get("backend", "local")))
    if backend not in BACKENDS:
        raise ConfigError(f"The setting backend (TLCORE_JOBS_BACKEND) must be \"local\" or \"ray\", not '{backend}'.")
    return JobSettings(
        max_running=int(_number("TLCORE_MAX_RUNNING_JOBS", table, "max_running", 1, minimum=1)),
        abandoned_s=60 * _number("TLCORE_ABANDONED_MINUTES", table, "abandoned_minutes", 60, minimum=1),
        backend=backend, ray_address=str(address or table.get("ray_address") or "local"),
        cpus_per_job=_number("TLCORE_CPUS_PER_JOB", table, "cpus_per_job", 1, minimum=0.1),
    )
