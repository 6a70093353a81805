"""Running a tile's model over its genotypes and writing the captured layers."""

from __future__ import annotations

import copy
import json
import logging
import platform
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .devices import resolve_device, resolve_dtype
from .encodings import check_phased, dosage_means, encode, features_per_variant
from .errors import InputError, ModelError
from .files import write_text_atomic
from .genotypes import TileGenotypes
from .hooks import capture, resolve_selectors
from .models import LoadedModel
from .parquet import EmbeddingWriter
from .reconstruction import ReconstructionAccumulator
from .tiles import Tile

log = logging.getLogger(__name__)


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


@dataclass
class InputSource:
    """Encodes any rows of a tile's genotypes as model input, so no full input matrix is held."""

    genotypes: TileGenotypes
    encoding: str
    width: int
    allow_unphased: bool = False
    means: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.genotypes.samples)

    def rows(self, index: slice | np.ndarray) -> np.ndarray:
        """The float32 model input of the selected samples."""
        g = self.genotypes
        alleles, phased = g.sample_rows(index, phased=self.encoding == "phased")
        return encode(
            self.encoding,
            alleles,
            phased,
            g.dosage[index] if g.dosage is not None else None,
            allow_unphased=True,  # checked once for the whole tile in input_source
            means=self.means,
        )


def input_source(
    model: LoadedModel, genotypes: TileGenotypes, allow_unphased: bool = False
) -> InputSource:
    """Check that genotypes fit the model and return their encoder."""
    if genotypes.n_variants != len(model.variants):
        raise InputError(
            f"tile {genotypes.tile_id}: the genotypes hold {genotypes.n_variants} variants "
            f"but the model has {len(model.variants)}; rerun the genotypes step for this model"
        )
    if model.encoding != "dosage" and genotypes.source.get("genotype_field", "GT") != "GT":
        raise InputError(
            f"tile {genotypes.tile_id}: the model takes {model.encoding} inputs, which need hard "
            f"calls, but genotypes were read from {genotypes.source['genotype_field']}; set "
            "genotype_field: GT"
        )
    width = len(model.variants) * features_per_variant(model.encoding)
    if width != model.n_inputs:
        raise ModelError(
            f"{model.path}: encoded input has width {width} but the model takes {model.n_inputs}"
        )
    if model.encoding == "phased" and not allow_unphased:
        check_phased(*genotypes.variant_major(), f"tile {genotypes.tile_id}")
    means = (
        dosage_means(genotypes.alleles, genotypes.dosage) if model.encoding == "dosage" else None
    )
    return InputSource(genotypes, model.encoding, width, allow_unphased, means)


def model_input(
    model: LoadedModel, genotypes: TileGenotypes, allow_unphased: bool = False
) -> np.ndarray:
    """Encode a tile's aligned genotypes as the model's whole float32 input matrix."""
    return input_source(model, genotypes, allow_unphased).rows(slice(None))


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
    source: InputSource | _ArraySource,
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
    source: InputSource | _ArraySource,
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
    precision_rows: int = 256,
) -> EmbedResult:
    """Embed one tile: capture `latent` plus `layers`, stream them to Parquet, write the QC JSON.

    Memory stays near the genotypes, the model and a few batches of activations: inputs are
    encoded per batch and each layer's rows go to its Parquet file as they come.
    """
    outdir = Path(outdir)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    chosen = resolve_selectors(model.module, ["latent", *(layers or [])], latent=model.latent)
    source = input_source(model, genotypes, allow_unphased)
    n = len(source)
    reference_module = copy.deepcopy(model.module) if torch_dtype != torch.float32 else None
    pick = np.sort(np.random.default_rng(0).permutation(n)[:precision_rows])
    check_reconstruction = model.reconstructs_input and model.encoding == "allele_presence"
    reconstruction = ReconstructionAccumulator(n, torch_device) if check_reconstruction else None
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
        "versions": software_versions(),
        "config": config or {},
    }
    writers: dict[str, EmbeddingWriter] = {}
    layer_info: dict[str, dict[str, Any]] = {}
    picked: dict[str, list[np.ndarray]] = {}
    try:
        for start, stop, acts in stream_activations(
            model,
            source,
            list(chosen),
            torch_device,
            batch_size,
            torch_dtype,
            on_output=reconstruction.add if reconstruction is not None else None,
        ):
            ids = genotypes.samples[start:stop]
            for name, values in acts.items():
                if not np.isfinite(values).all():
                    bad = int((~np.isfinite(values)).any(axis=1).sum())
                    raise ModelError(
                        f"tile {tile.tile_id}: layer {name} of {model.path} gave NaN or infinite "
                        f"values for {bad} sample(s) in rows {start}-{stop - 1}; check the model's weights"
                    )
                if name not in writers:
                    layer = layer_dir_name(name, model.latent)
                    path = outdir / "embeddings" / f"layer={layer}" / f"{tile.tile_id}.parquet"
                    meta = {**base_meta, "layer": layer, "module": name}
                    writers[name] = EmbeddingWriter(path, tile.tile_id, values.shape[1], meta)
                    layer_info[layer] = {
                        "module": name,
                        "width": int(values.shape[1]),
                        "file": path.relative_to(outdir).as_posix(),
                    }
                writers[name].write(ids, values)
                if reference_module is not None:
                    rows = pick[(pick >= start) & (pick < stop)] - start
                    picked.setdefault(name, []).append(values[rows])
        precision = None
        if reference_module is not None:
            model_f32 = LoadedModel(**{**model.__dict__, "module": reference_module})
            reduced = {name: np.concatenate(parts) for name, parts in picked.items()}
            precision = precision_check(
                model_f32, source, pick, list(chosen), torch_device, torch_dtype, reduced
            )
        files = {layer_dir_name(name, model.latent): w.close() for name, w in writers.items()}
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    qc = {
        **base_meta,
        "n_samples": n,
        "layers": layer_info,
        "layer_order": list(layer_info),  # forward order, as the hooks fired
    }
    if precision is not None:
        qc["reduced_precision"] = precision
    samples_path = outdir / "qc" / f"{tile.tile_id}.samples.tsv"
    qc["per_sample_file"] = samples_path.relative_to(outdir).as_posix()
    if reconstruction is not None:
        result = reconstruction.result()
        per_sample = result.pop("per_sample_concordance")
        calls = result.pop("per_sample_calls")
        qc["reconstruction"] = result
    else:
        calls = (genotypes.variant_major()[0][..., 0] >= 0).sum(axis=0)
        per_sample = np.full(len(calls), np.nan)
    rows = ["sample_id\tobserved_calls\tconcordance"] + [
        f"{sid}\t{k}\t{'NA' if c != c else f'{c:.6f}'}"
        for sid, k, c in zip(genotypes.samples, calls.tolist(), per_sample.tolist())
    ]
    write_text_atomic(samples_path, "\n".join(rows) + "\n")
    qc.update(extra_qc or {})
    qc_path = outdir / "qc" / f"{tile.tile_id}.json"
    write_text_atomic(qc_path, json.dumps(qc, indent=2, sort_keys=True) + "\n")
    return EmbedResult(tile.tile_id, files, qc_path, qc)
