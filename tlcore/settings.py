"""Engine settings a person may change: where the caches live, how much memory and disk they use,
and whether to compute in mixed precision.

Each value comes from an environment variable if set, else from a TOML settings file, else the
default. The file is the one named by TLCORE_SETTINGS, or `tlcore.toml` in the current folder:

    [cache]
    dir = "/data/tlcore-cache"   # default: the user's cache folder
    disk_gb = 5                  # least recently used entries are removed beyond this
    memory_gb = 1                # decoded images and activations beyond this are read from disk
    half_precision = true        # store activations as float16 where they fit

    [engine]
    mixed_precision = true       # bfloat16 on GPUs and on CPUs with bf16 in hardware
"""
from __future__ import annotations

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
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The settings file {path} is not valid TOML ({exc}). Fix or remove it.") from None


def _flag(env: str, table: dict, key: str, default: bool) -> bool:
    return str(os.environ.get(env, table.get(key, default))).lower() not in ("0", "false", "no", "off")


def _number(env: str, table: dict, key: str, default: float) -> float:
    raw = os.environ.get(env, table.get(key, default))
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"The setting {key} ({env}) must be a number of gigabytes, not '{raw}'.") from None
    if value < 0:
        raise ConfigError(f"The setting {key} ({env}) must be 0 or more.")
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
