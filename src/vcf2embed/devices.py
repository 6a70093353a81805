"""Choosing the torch device and dtype."""

from __future__ import annotations

import torch

from .errors import InputError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """Return the device for `auto|cpu|cuda|cuda:N|mps`, or raise if it is not available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                f"device {name!r} was asked for but this torch has no CUDA device "
                f"(torch {torch.__version__}); use device: auto or cpu, or install a CUDA build"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(
                f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise InputError(f"device {name!r} was asked for but MPS is not available")
    return device


def resolve_dtype(name: str) -> torch.dtype:
    """Return the torch dtype for `float32|bfloat16|float16`."""
    try:
        return DTYPES[name]
    except KeyError:
        raise InputError(f"dtype {name!r}: use one of {', '.join(DTYPES)}") from None
