"""Running a tile's model over its genotypes and writing the captured layers."""

from __future__ import annotations

import copy
import json
import logging
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .defaults import default
from .devices import resolve_device, resolve_dtype
from .encodings import check_phased, dosage_means, encode, features_per_variant
from .errors import InputError, ModelError
from .files import write_text_atomic
from .forward import precision_check, stream_activations
from .genotypes import TileGenotypes
from .hooks import resolve_selectors
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
        if self.encoding == "allele_presence" and g.presence is not None:
            return g.presence_rows(index)  # soft allele presence from GP
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
    field = genotypes.source.get("genotype_field", "GT")
    soft = model.encoding == "allele_presence" and genotypes.presence is not None
    if model.encoding != "dosage" and field != "GT" and not soft:
        raise InputError(
            f"tile {genotypes.tile_id}: the model takes {model.encoding} inputs, which need hard "
            f"calls{' or GP' if model.encoding == 'allele_presence' else ''}, but genotypes were "
            f"read from {field}; set genotype_field: GT"
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
    device: str = default("device"),
    batch_size: int = default("batch_size"),
    dtype: str = default("dtype"),
    allow_unphased: bool = default("allow_unphased"),
    config: dict[str, Any] | None = None,
    extra_qc: dict[str, Any] | None = None,
    precision_rows: int = 256,
) -> EmbedResult:
    """Embed one tile: capture `latent` plus `layers`, stream them to Parquet, write the QC JSON.

    Memory stays near the genotypes, the model and a few batches of activations: inputs are
    encoded per batch and each layer's rows go to its Parquet file as they come.
    """
    started = time.time()
    run = _prepare(genotypes, tile, model, layers, device, dtype, allow_unphased, precision_rows)
    meta = tile_metadata(genotypes, tile, model, run.device, dtype, batch_size, config)
    writers = _LayerWriters(Path(outdir), tile.tile_id, model.latent, meta)
    try:
        for start, stop, acts in stream_activations(
            model,
            run.source,
            run.selectors,
            run.device,
            batch_size,
            run.dtype,
            on_output=run.reconstruction.add if run.reconstruction is not None else None,
        ):
            for name, values in acts.items():
                check_finite(values, name, tile, model, start)
                writers.write(name, genotypes.samples[start:stop], values)
                run.keep_picked(name, start, stop, values)
        precision = run.precision(model)
        files = writers.close()
    except BaseException:
        writers.abort()
        raise
    qc = {**meta, "n_samples": len(run.source), "layers": writers.info}
    qc["layer_order"] = list(writers.info)  # forward order, as the hooks fired
    if precision is not None:
        qc["reduced_precision"] = precision
    qc.update(write_sample_qc(Path(outdir), tile.tile_id, genotypes, run.reconstruction))
    qc.update(extra_qc or {})
    qc["started"], qc["finished"] = started, time.time()  # the window the tile held its device
    qc_path = Path(outdir) / "qc" / f"{tile.tile_id}.json"
    write_text_atomic(qc_path, json.dumps(qc, indent=2, sort_keys=True) + "\n")
    return EmbedResult(tile.tile_id, files, qc_path, qc)


@dataclass
class _Run:
    """What one tile's forward pass needs: input, selectors, device, and the checks' state."""

    source: InputSource
    selectors: list[str]
    device: torch.device
    dtype: torch.dtype
    reconstruction: ReconstructionAccumulator | None
    reference_module: torch.nn.Module | None
    pick: np.ndarray
    picked: dict[str, list[np.ndarray]]

    def keep_picked(self, name: str, start: int, stop: int, values: np.ndarray) -> None:
        """Keep the rows the reduced-precision check compares, when it runs."""
        if self.reference_module is not None:
            rows = self.pick[(self.pick >= start) & (self.pick < stop)] - start
            self.picked.setdefault(name, []).append(values[rows])

    def precision(self, model: LoadedModel) -> dict[str, Any] | None:
        """The reduced-precision check's figures, or None when the run was float32."""
        if self.reference_module is None:
            return None
        model_f32 = LoadedModel(**{**model.__dict__, "module": self.reference_module})
        reduced = {name: np.concatenate(parts) for name, parts in self.picked.items()}
        return precision_check(
            model_f32, self.source, self.pick, self.selectors, self.device, self.dtype, reduced
        )


def _prepare(
    genotypes: TileGenotypes,
    tile: Tile,
    model: LoadedModel,
    layers: list[str] | None,
    device: str,
    dtype: str,
    allow_unphased: bool,
    precision_rows: int,
) -> _Run:
    """Load step: resolve device, dtype and selectors, and check the genotypes fit the model."""
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    chosen = resolve_selectors(model.module, ["latent", *(layers or [])], latent=model.latent)
    source = input_source(model, genotypes, allow_unphased)
    reference = copy.deepcopy(model.module) if torch_dtype != torch.float32 else None
    pick = np.sort(np.random.default_rng(0).permutation(len(source))[:precision_rows])
    check_reconstruction = model.reconstructs_input and model.encoding == "allele_presence"
    reconstruction = (
        ReconstructionAccumulator(len(source), torch_device) if check_reconstruction else None
    )
    return _Run(
        source, list(chosen), torch_device, torch_dtype, reconstruction, reference, pick, {}
    )


def tile_metadata(
    genotypes: TileGenotypes,
    tile: Tile,
    model: LoadedModel,
    device: torch.device,
    dtype: str,
    batch_size: int,
    config: dict[str, Any] | None,
) -> dict[str, Any]:
    """What every output file of a tile records: model, alignment, device, versions, config."""
    return {
        "tile_id": tile.tile_id,
        "tile": {"chrom": tile.chrom, "start": tile.start, "end": tile.end, "label": tile.label},
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
        "device": str(device),
        "dtype": dtype,
        "batch_size": batch_size,
        "versions": software_versions(),
        "config": config or {},
    }


def check_finite(values: np.ndarray, name: str, tile: Tile, model: LoadedModel, start: int) -> None:
    """Check step: raise when a captured layer holds NaN or infinite values."""
    if np.isfinite(values).all():
        return
    bad = int((~np.isfinite(values)).any(axis=1).sum())
    raise ModelError(
        f"tile {tile.tile_id}: layer {name} of {model.path} gave NaN or infinite values for "
        f"{bad} sample(s) in rows {start}-{start + len(values) - 1}; check the model's weights"
    )


class _LayerWriters:
    """Write step: one streaming Parquet writer per captured layer, opened on its first batch."""

    def __init__(self, outdir: Path, tile_id: str, latent: str, meta: dict[str, Any]) -> None:
        self.outdir, self.tile_id, self.latent, self.meta = outdir, tile_id, latent, meta
        self.writers: dict[str, EmbeddingWriter] = {}
        self.info: dict[str, dict[str, Any]] = {}

    def write(self, name: str, ids: list[str], values: np.ndarray) -> None:
        """Append one batch of layer `name`'s rows."""
        if name not in self.writers:
            layer = layer_dir_name(name, self.latent)
            path = self.outdir / "embeddings" / f"layer={layer}" / f"{self.tile_id}.parquet"
            meta = {**self.meta, "layer": layer, "module": name}
            self.writers[name] = EmbeddingWriter(path, self.tile_id, values.shape[1], meta)
            self.info[layer] = {
                "module": name,
                "width": int(values.shape[1]),
                "file": path.relative_to(self.outdir).as_posix(),
            }
        self.writers[name].write(ids, values)

    def close(self) -> dict[str, Path]:
        """Finish every file; return them by layer."""
        return {layer_dir_name(n, self.latent): w.close() for n, w in self.writers.items()}

    def abort(self) -> None:
        """Remove every unfinished file."""
        for writer in self.writers.values():
            writer.abort()


def write_sample_qc(
    outdir: Path,
    tile_id: str,
    genotypes: TileGenotypes,
    reconstruction: ReconstructionAccumulator | None,
) -> dict[str, Any]:
    """Write the tile's per-sample QC table; return what the tile's QC JSON records of it."""
    path = outdir / "qc" / f"{tile_id}.samples.tsv"
    qc: dict[str, Any] = {"per_sample_file": path.relative_to(outdir).as_posix()}
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
    write_text_atomic(path, "\n".join(rows) + "\n")
    return qc
