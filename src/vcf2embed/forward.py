"""The forward pass: batches through the model with hooks, activations back to the host."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np
import torch

from .errors import InputError
from .hooks import capture
from .models import LoadedModel

log = logging.getLogger(__name__)


class RowSource(Protocol):
    """Model input served by rows (an encoder of genotypes, or a ready matrix)."""

    def __len__(self) -> int: ...

    def rows(self, index: slice | np.ndarray) -> np.ndarray:
        """The float32 model input of the selected samples."""


class _ArraySource:
    """An already encoded input matrix, served like an InputSource."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = np.ascontiguousarray(x, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.x)

    def rows(self, index: slice | np.ndarray) -> np.ndarray:
        return self.x[index]


def stream_activations(
    model: LoadedModel,
    source: RowSource,
    selectors: list[str],
    device: torch.device,
    batch_size: int = 256,
    dtype: torch.dtype = torch.float32,
    module: torch.nn.Module | None = None,
    on_output: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    """Run the model batch by batch; yield (start, stop, captured outputs) for each batch.

    `on_output(start, inputs, output)` sees each batch's input and output on the device. On CUDA,
    inputs go through pinned memory with non-blocking copies, and each batch's activations are
    copied back while the next batch runs; an out-of-memory error halves the batch.
    """
    if batch_size < 1:
        raise InputError(f"batch_size {batch_size}: it must be 1 or more")
    module = (module or model.module).to(device=device, dtype=dtype).eval()
    n = len(source)
    cuda = device.type == "cuda"
    pending = None

    def ready(item):
        start, stop, event, host = item
        if event is not None:
            event.synchronize()
        return start, stop, {name: tensor.numpy() for name, tensor in host.items()}

    start = 0
    with torch.inference_mode(), capture(module, selectors, latent=model.latent) as acts:
        while start < n:
            stop = min(start + batch_size, n)
            xb = torch.from_numpy(source.rows(slice(start, stop)))
            if cuda:
                xb = xb.pin_memory()
            xb = xb.to(device=device, dtype=dtype, non_blocking=True)
            try:
                result = module(xb)
            except torch.cuda.OutOfMemoryError:
                if batch_size == 1:
                    raise
                batch_size = max(1, batch_size // 2)
                acts.clear()
                torch.cuda.empty_cache()
                log.warning("CUDA out of memory; retrying with batch_size %d", batch_size)
                continue
            captured = dict(acts)
            if on_output is not None and isinstance(result, torch.Tensor):
                on_output(start, xb, result)
            host = {
                name: t.reshape(stop - start, -1).to(torch.float32).to("cpu", non_blocking=cuda)
                for name, t in captured.items()
            }
            event = None
            if cuda:
                event = torch.cuda.Event()
                event.record()
            if pending is not None:
                yield ready(pending)
            pending = (start, stop, event, host)
            start = stop
        if pending is not None:
            yield ready(pending)


def compute_activations(
    model: LoadedModel,
    x: np.ndarray,
    selectors: list[str],
    device: torch.device,
    batch_size: int = 256,
    dtype: torch.dtype = torch.float32,
    module: torch.nn.Module | None = None,
) -> dict[str, np.ndarray]:
    """Run the model over the input matrix `x`; return each captured module's (samples, dims) output."""
    parts: dict[str, list[np.ndarray]] = {}
    for _, _, acts in stream_activations(
        model, _ArraySource(x), selectors, device, batch_size, dtype, module
    ):
        for name, values in acts.items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(chunks, axis=0) for name, chunks in parts.items()}


def precision_check(
    model: LoadedModel,
    source: RowSource,
    pick: np.ndarray,
    selectors: list[str],
    device: torch.device,
    dtype: torch.dtype,
    reduced: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Largest absolute difference per layer between reduced-precision rows and float32.

    `model.module` must be the float32 module; `reduced` holds the reduced run's rows `pick`.
    """
    reference = compute_activations(
        model,
        source.rows(pick),
        selectors,
        device,
        max(1, len(pick)),
        torch.float32,
        module=model.module,
    )
    return {
        "dtype": str(dtype).replace("torch.", ""),
        "rows_compared": int(len(pick)),
        "max_abs_diff": {
            name: float(np.abs(reduced[name] - ref).max()) if len(pick) else 0.0
            for name, ref in reference.items()
        },
    }
