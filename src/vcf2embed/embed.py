"""Running a tile's model over its genotypes and writing the captured layers."""

from __future__ import annotations

import copy
import json
import logging
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .devices import resolve_device, resolve_dtype
from .encodings import encode
from .errors import InputError, ModelError
from .files import write_text_atomic
from .genotypes import TileGenotypes
from .hooks import capture, resolve_selectors
from .models import LoadedModel
from .parquet import write_embeddings
from .reconstruction import reconstruction_qc
from .tiles import Tile

log = logging.getLogger(__name__)


OUTPUT = "<output>"


@dataclass
class EmbedResult:
    """What one tile's embed job wrote."""

    tile_id: str
    files: dict[str, Path]
    qc_path: Path
    qc: dict[str, Any]


def layer_dir_name(module_name: str, latent: str) -> str:
    """Return the `layer=` partition value for a captured module name."""
    if module_name == latent:
        return "latent"
    return re.sub(r"[^A-Za-z0-9._@-]", "~", module_name)


def model_input(
    model: LoadedModel, genotypes: TileGenotypes, allow_unphased: bool = False
) -> np.ndarray:
    """Encode a tile's aligned genotypes as the model's float32 input matrix."""
    if genotypes.alleles.shape[1] != len(model.variants):
        raise InputError(
            f"tile {genotypes.tile_id}: the genotypes hold {genotypes.alleles.shape[1]} variants "
            f"but the model has {len(model.variants)}; rerun the genotypes step for this model"
        )
    if model.encoding != "dosage" and genotypes.source.get("genotype_field", "GT") != "GT":
        raise InputError(
            f"tile {genotypes.tile_id}: the model takes {model.encoding} inputs, which need hard "
            f"calls, but genotypes were read from {genotypes.source['genotype_field']}; set "
            "genotype_field: GT"
        )
    x = encode(
        model.encoding,
        genotypes.alleles,
        genotypes.phased,
        genotypes.dosage,
        allow_unphased=allow_unphased,
        where=f"tile {genotypes.tile_id}",
    )
    if x.shape[1] != model.n_inputs:
        raise ModelError(
            f"{model.path}: encoded input has width {x.shape[1]} but the model takes {model.n_inputs}"
        )
    return x


def compute_activations(
    model: LoadedModel,
    x: np.ndarray,
    selectors: list[str],
    device: torch.device,
    batch_size: int = 256,
    dtype: torch.dtype = torch.float32,
    module: torch.nn.Module | None = None,
    keep_output: bool = False,
) -> dict[str, np.ndarray]:
    """Run the model over `x` in batches and return each captured module's (samples, dims) output.

    With `keep_output` the model's own output is returned too, under the key `OUTPUT`.
    """
    if batch_size < 1:
        raise InputError(f"batch_size {batch_size}: it must be 1 or more")
    module = (module or model.module).to(device=device, dtype=dtype).eval()
    n = x.shape[0]
    parts: dict[str, list[np.ndarray]] = {}
    source = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    cuda = device.type == "cuda"
    if cuda:
        source = source.pin_memory()
    pending: tuple[Any, dict[str, torch.Tensor]] | None = None

    def collect(item: tuple[Any, dict[str, torch.Tensor]]) -> None:
        event, host = item
        if event is not None:
            event.synchronize()
        for name, tensor in host.items():
            parts.setdefault(name, []).append(tensor.numpy())

    start = 0
    with torch.inference_mode(), capture(module, selectors, latent=model.latent) as acts:
        while start < n:
            stop = min(start + batch_size, n)
            xb = source[start:stop].to(device=device, dtype=dtype, non_blocking=True)
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
            # copies back to the host are queued behind this batch; they are read after the
            # next batch has been queued, so the GPU is not idle while the host waits
            captured = dict(acts)
            if keep_output and isinstance(result, torch.Tensor):
                captured[OUTPUT] = result
            host = {
                name: t.reshape(stop - start, -1).to(torch.float32).to("cpu", non_blocking=cuda)
                for name, t in captured.items()
            }
            event = None
            if cuda:
                event = torch.cuda.Event()
                event.record()
            if pending is not None:
                collect(pending)
            pending = (event, host)
            start = stop
        if pending is not None:
            collect(pending)
    return {name: np.concatenate(chunks, axis=0) for name, chunks in parts.items()}


def precision_check(
    model: LoadedModel,
    x: np.ndarray,
    selectors: list[str],
    device: torch.device,
    dtype: torch.dtype,
    reduced: dict[str, np.ndarray],
    rows: int = 256,
    seed: int = 0,
) -> dict[str, Any]:
    """Largest absolute difference per layer between a reduced-precision run and float32.

    `model.module` must still be the float32 module.
    """
    pick = np.sort(np.random.default_rng(seed).permutation(len(x))[:rows])
    reference = compute_activations(
        model,
        x[pick],
        selectors,
        device,
        len(pick) or 1,
        torch.float32,
        module=model.module,
    )
    return {
        "dtype": str(dtype).replace("torch.", ""),
        "rows_compared": int(len(pick)),
        "max_abs_diff": {
            name: float(np.abs(reduced[name][pick] - ref).max()) if len(pick) else 0.0
            for name, ref in reference.items()
        },
    }


def software_versions() -> dict[str, str]:
    """Return the versions that shaped the numbers."""
    import pyarrow

    return {
        "vcf2embed": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pyarrow": pyarrow.__version__,
        "python": platform.python_version(),
    }


def embed_tile(
    genotypes: TileGenotypes,
    tile: Tile,
    model: LoadedModel,
    outdir: str | Path,
    layers: list[str] | None = None,
    device: str = "auto",
    batch_size: int = 256,
    dtype: str = "float32",
    allow_unphased: bool = False,
    config: dict[str, Any] | None = None,
    extra_qc: dict[str, Any] | None = None,
) -> EmbedResult:
    """Embed one tile: capture `latent` plus `layers` and write Parquet files and the QC JSON."""
    outdir = Path(outdir)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    selectors = ["latent", *(layers or [])]
    chosen = resolve_selectors(model.module, selectors, latent=model.latent)
    x = model_input(model, genotypes, allow_unphased)
    reference_module = copy.deepcopy(model.module) if torch_dtype != torch.float32 else None
    check_reconstruction = model.reconstructs_input and model.encoding == "allele_presence"
    acts = compute_activations(
        model,
        x,
        list(chosen),
        torch_device,
        batch_size,
        torch_dtype,
        keep_output=check_reconstruction,
    )
    reconstruction = None
    if check_reconstruction:
        reconstruction = reconstruction_qc(genotypes.alleles, acts.pop(OUTPUT))
    precision = None
    if reference_module is not None:
        model_f32 = LoadedModel(**{**model.__dict__, "module": reference_module})
        precision = precision_check(model_f32, x, list(chosen), torch_device, torch_dtype, acts)
    for name, values in acts.items():
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).any(axis=1).sum())
            raise ModelError(
                f"tile {tile.tile_id}: layer {name} of {model.path} gave NaN or infinite values "
                f"for {bad} sample(s); check the model's weights"
            )
    versions = software_versions()
    base_meta = {
        "tile_id": tile.tile_id,
        "tile": {"chrom": tile.chrom, "start": tile.start, "end": tile.end},
        "model": {
            "path": str(model.path),
            "format": model.format,
            "sha256": model.sha256,
            "encoding": model.encoding,
            "latent": model.latent,
            "n_inputs": model.n_inputs,
        },
        "alignment": genotypes.qc.to_dict(),
        "genotype_source": genotypes.source,
        "device": str(torch_device),
        "dtype": dtype,
        "batch_size": batch_size,
        "versions": versions,
        "config": config or {},
    }
    files: dict[str, Path] = {}
    layer_info: dict[str, dict[str, Any]] = {}
    for name, values in acts.items():
        layer = layer_dir_name(name, model.latent)
        path = outdir / "embeddings" / f"layer={layer}" / f"{tile.tile_id}.parquet"
        write_embeddings(
            path,
            genotypes.samples,
            tile.tile_id,
            values,
            {**base_meta, "layer": layer, "module": name},
        )
        files[layer] = path
        layer_info[layer] = {
            "module": name,
            "width": int(values.shape[1]),
            "file": path.relative_to(outdir).as_posix(),
        }
    qc = {
        **base_meta,
        "n_samples": len(genotypes.samples),
        "layers": layer_info,
        "layer_order": list(layer_info),  # forward order, as the hooks fired
    }
    if precision is not None:
        qc["reduced_precision"] = precision
    samples_path = outdir / "qc" / f"{tile.tile_id}.samples.tsv"
    if reconstruction is not None:
        per_sample = reconstruction.pop("per_sample_concordance")
        calls = reconstruction.pop("per_sample_calls")
        qc["reconstruction"] = reconstruction
    qc["per_sample_file"] = samples_path.relative_to(outdir).as_posix()
    if reconstruction is None:
        calls = (genotypes.alleles[..., 0] >= 0).sum(axis=1)
        per_sample = np.full(len(calls), np.nan)
    rows = ["sample_id\tobserved_calls\tconcordance"] + [
        f"{sid}\t{n}\t{'NA' if c != c else f'{c:.6f}'}"
        for sid, n, c in zip(genotypes.samples, calls.tolist(), per_sample.tolist())
    ]
    write_text_atomic(samples_path, "\n".join(rows) + "\n")
    qc.update(extra_qc or {})
    qc_path = outdir / "qc" / f"{tile.tile_id}.json"
    write_text_atomic(qc_path, json.dumps(qc, indent=2, sort_keys=True) + "\n")
    return EmbedResult(tile.tile_id, files, qc_path, qc)
