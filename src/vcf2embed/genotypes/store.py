"""The per-tile genotype intermediate: compact on disk, exact for hard calls.

A `.npz` (no pickled objects) whose arrays are zlib-compressed bytes (the standard library's,
so the genotypes step imports nothing heavy):

* `calls`: per call, variant-major, 2 bits: the model-ALT allele count (0, 1, 2) or 3 for a
  missing call, four calls a byte;
* `het_order`: one bit per call, set where a heterozygous call is `ALT, REF` (1|0), so phased
  haplotypes round-trip;
* `phased`: one bit per call;
* `dosage` (dosage fields only): uint16, `lo + q * (hi - lo) / 65534` with `lo = min(0, min)`,
  `hi = max(2, max)`, 65535 missing; the largest error is half a step plus float32 rounding,
  `(hi - lo) / 131068 + max(|lo|, |hi|) * 2**-24`, 1.54e-5 for dosages in [0, 2] (a model sees
  dosages of imputed data to three decimals), recorded in the file as `dosage_max_error`;
* `presence` (GP only): uint16 soft allele presence, [P(REF present), P(ALT present)] times
  65535 per call, variant-major, as read;
* `samples` and a JSON `meta` (tile, QC, source, shapes, format version).

A call with either allele missing is stored as missing, as the aligner already makes it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..errors import InputError, TileFailedError
from ..files import write_npz
from .qc import AlignmentQC
from .tile import TileGenotypes

STORE_VERSION = 2
DOSAGE_MISSING = 65535
DOSAGE_STEPS = 65534
_BLOCK = 256  # variants packed or unpacked at a time: bounds the temporaries
# (count | het_order << 2) -> the call's two allele codes as one little-endian int16
_PAIRS = np.array(
    [[0, 0], [0, 1], [1, 1], [-1, -1], [0, 0], [1, 0], [1, 1], [-1, -1]], dtype=np.int8
).view(np.int16)[:, 0]
_UNPACK = (np.arange(256, dtype=np.uint8)[:, None] >> np.array([0, 2, 4, 6], np.uint8)) & 3


def _compress(data: np.ndarray) -> np.ndarray:
    """zlib-compressed bytes of an array, as a uint8 array."""
    return np.frombuffer(zlib.compress(np.ascontiguousarray(data).data, 1), dtype=np.uint8)


def _decompress(data: np.ndarray, size: int) -> np.ndarray:
    """The bytes `_compress` took, as a uint8 array."""
    out = zlib.decompress(data.data, bufsize=max(1, size))
    if len(out) != size:
        raise ValueError(f"expected {size} bytes, found {len(out)}")
    return np.frombuffer(out, dtype=np.uint8)


def _code_table() -> np.ndarray:
    """The 2-bit code of every call as one uint16 (two int8 allele codes, little-endian)."""
    pairs = np.arange(1 << 16, dtype=np.uint16).view(np.int8).reshape(-1, 2)
    missing = (pairs < 0).any(axis=1)
    code = np.where(missing, 3, pairs.sum(axis=1, dtype=np.int16)).astype(np.uint8)
    code[~missing & (pairs.max(axis=1) > 1)] = 3  # not a model code: stored as missing
    return code


_CODE = _code_table()
_HET_PAIR = np.array([1, 0], dtype=np.int8).view(np.uint16)[0]  # the call ALT, REF (1|0)


def pack_calls(alleles_vm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-bit call codes (variants, ceil(samples / 4)) and het-order bits of variant-major
    allele codes (variants, samples, 2)."""
    n_var, n = alleles_vm.shape[:2]
    width = -(-n // 4)
    packed = np.zeros((n_var, width), dtype=np.uint8)
    het_order = np.zeros((n_var, -(-n // 8)), dtype=np.uint8)
    pairs = np.ascontiguousarray(alleles_vm).view(np.uint16)[..., 0]
    codes = np.zeros((min(_BLOCK, n_var), width * 4), dtype=np.uint8)
    for first in range(0, n_var, _BLOCK):
        block = pairs[first : first + _BLOCK]
        rows = len(block)
        codes[:rows, :n] = _CODE[block]
        c = codes[:rows].reshape(rows, width, 4)
        packed[first : first + rows] = c[..., 0] | c[..., 1] << 2 | c[..., 2] << 4 | c[..., 3] << 6
        het_order[first : first + rows] = np.packbits(block == _HET_PAIR, axis=1)
    return packed, het_order


def unpack_calls(packed: np.ndarray, het_order: np.ndarray, n: int) -> np.ndarray:
    """Variant-major allele codes (variants, samples, 2) from `pack_calls`' arrays."""
    n_var = len(packed)
    out = np.empty((n_var, n, 2), dtype=np.int8)
    pairs = out.view(np.int16)[..., 0]
    for first in range(0, n_var, _BLOCK):
        block = slice(first, first + _BLOCK)
        count = _UNPACK[packed[block]].reshape(len(packed[block]), -1)[:, :n]
        het = np.unpackbits(het_order[block], axis=1, count=n)
        pairs[block] = _PAIRS[count | het << 2]
    return out


def quantise_dosage(dosage: np.ndarray) -> tuple[np.ndarray, float, float]:
    """uint16 codes of a float dosage array (NaN missing) and the (lo, hi) they span."""
    with np.errstate(all="ignore"):
        lo = min(0.0, float(np.nanmin(dosage))) if np.isfinite(dosage).any() else 0.0
        hi = max(2.0, float(np.nanmax(dosage))) if np.isfinite(dosage).any() else 2.0
        q = np.empty(dosage.shape, dtype=np.uint16)
        scale = DOSAGE_STEPS / (hi - lo)
        for first in range(0, len(dosage), 4096):  # bounds the float temporaries
            part = dosage[first : first + 4096]
            scaled = np.rint((part.astype(np.float64) - lo) * scale)
            scaled[~np.isfinite(part)] = DOSAGE_MISSING
            q[first : first + 4096] = scaled
    return q, lo, hi


def dequantise_dosage(q: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """float32 dosages (NaN missing) of `quantise_dosage`'s codes."""
    out = np.empty(q.shape, dtype=np.float32)
    for first in range(0, len(q), 4096):
        part = q[first : first + 4096]
        values = part * ((hi - lo) / DOSAGE_STEPS) + lo
        values[part == DOSAGE_MISSING] = np.nan
        out[first : first + 4096] = values
    return out


def dosage_max_error(lo: float, hi: float) -> float:
    """The largest difference between a dosage and its stored value: half a step, plus the
    float32 rounding of the value read back."""
    return (hi - lo) / (2 * DOSAGE_STEPS) + max(abs(lo), abs(hi)) * 2.0**-24


def save_genotypes(genotypes: TileGenotypes, path: str | Path) -> None:
    """Write a tile's aligned genotypes compactly, atomically."""
    alleles_vm, phased_vm = genotypes.variant_major()
    n_var, n = alleles_vm.shape[:2]
    packed, het_order = pack_calls(alleles_vm)
    meta = {
        "store_version": STORE_VERSION,
        "tile_id": genotypes.tile_id,
        "qc": asdict(genotypes.qc),
        "source": genotypes.source,
        "n_variants": n_var,
        "n_samples": n,
    }
    arrays = {
        "calls": _compress(packed),
        "het_order": _compress(het_order),
        "phased": _compress(np.packbits(phased_vm, axis=1)),
        "samples": np.asarray(genotypes.samples, dtype=np.str_),
    }
    if genotypes.dosage is not None:
        q, lo, hi = quantise_dosage(genotypes.dosage)
        arrays["dosage"] = _compress(q)
        meta["dosage_range"] = [lo, hi]
        meta["dosage_max_error"] = dosage_max_error(lo, hi)
    if genotypes.presence is not None:
        arrays["presence"] = _compress(genotypes.presence)
    arrays["meta"] = np.asarray(json.dumps(meta))
    write_npz(path, arrays)


def load_genotypes(path: str | Path) -> TileGenotypes:
    """Read a file written by `save_genotypes`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if "failed" in meta:
                raise TileFailedError(meta["tile_id"], "genotypes", meta["failed"])
            if meta.get("store_version") != STORE_VERSION:
                raise InputError(
                    f"{path}: written by another version of vcf2embed; delete it and rerun the "
                    "genotypes step"
                )
            return _from_arrays(data, meta)
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a genotypes file written by vcf2embed ({exc})") from None


def _from_arrays(data, meta: dict) -> TileGenotypes:
    """A TileGenotypes from the arrays and meta of an open store file."""
    n_var, n = meta["n_variants"], meta["n_samples"]
    width = -(-n // 4)
    packed = _decompress(data["calls"], n_var * width).reshape(n_var, width)
    het_order = _decompress(data["het_order"], n_var * -(-n // 8)).reshape(n_var, -1)
    phased_bits = _decompress(data["phased"], n_var * -(-n // 8)).reshape(n_var, -1)
    dosage = None
    if "dosage" in data:
        q = _decompress(data["dosage"], 2 * n * n_var).view(np.uint16).reshape(n, n_var)
        dosage = dequantise_dosage(q, *meta["dosage_range"])
    presence = None
    if "presence" in data:
        raw = _decompress(data["presence"], 4 * n * n_var)
        presence = raw.view(np.uint16).reshape(n_var, n, 2)
    return TileGenotypes(
        tile_id=meta["tile_id"],
        samples=[str(s) for s in data["samples"]],
        alleles_vm=unpack_calls(packed, het_order, n),
        phased_vm=np.unpackbits(phased_bits, axis=1, count=n).view(bool),
        dosage=dosage,
        presence=presence,
        qc=AlignmentQC.from_dict(meta["qc"]),
        source=meta.get("source", {}),
    )
