"""Pick the compute device and describe it in words for the UI."""
from __future__ import annotations

import torch

from .errors import ConfigError
from .settings import engine_settings

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' means CUDA if present, else Apple MPS, else CPU."""
    if name not in DEVICE_CHOICES:
        raise ConfigError(f"Unknown device '{name}'. Choose one of: {', '.join(DEVICE_CHOICES)}.")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("No CUDA GPU was found on this machine. Use --device auto or cpu.")
    if name == "mps" and not _mps_available():
        raise ConfigError("Apple MPS is not available on this machine. Use --device auto or cpu.")
    return torch.device(name)


def _cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX: bfloat16 maths in hardware (elsewhere it is emulated and slower)."""
    return any(getattr(torch.cpu, check, lambda: False)()
               for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA GPUs and on CPUs that do bf16 in hardware, unless the mixed_precision
    setting is off; full precision elsewhere."""
    if not engine_settings().mixed_precision:
        return None
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type == "cpu" and _cpu_has_native_bf16():
        return torch.bfloat16
    return None


def describe_device(device: torch.device) -> str:
    """A short human description, e.g. 'GPU: NVIDIA H100 (bf16)' or 'CPU (4 threads)'."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"GPU: {name}" + (" (bf16)" if autocast_dtype(device) else "")
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)" + (" (bf16)" if autocast_dtype(device) else "")


def inference_batch_size(device: torch.device) -> int:
    """Examples per forward pass without gradients: large on a GPU (keeps it busy), modest on a CPU."""
    return 256 if device.type == "cuda" else 64
