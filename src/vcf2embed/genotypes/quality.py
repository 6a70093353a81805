"""Imputation quality: `min_info_r2` turns poorly imputed variants into the missing encoding.

A variant's quality is the INFO value its record carries (`R2` from Minimac, `DR2` from Beagle,
`INFO` from IMPUTE, in that order of preference), or the one an info table gives: UK Biobank's
`ukb_mfi_chr*_v3.txt` layout (no header; columns alternate ID, rsID, position, allele 1,
allele 2, MAF, minor allele, info score), or a TSV with a header holding `pos`, `ref`, `alt` and
`info` columns. Table rows match a model variant by position and alleles in either order. A
variant with no quality anywhere is kept and counted.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..variants import VariantList

INFO_KEYS = ("R2", "DR2", "INFO")
_KEY = re.compile(r"(?:^|;)(R2|DR2|INFO)=([^;]+)")


def info_quality(info: str) -> float | None:
    """The imputation quality in a VCF INFO text (R2, else DR2, else INFO), or None."""
    found = dict(_KEY.findall(info))
    for key in INFO_KEYS:
        if key in found:
            try:
                return float(found[key].split(",")[0])
            except ValueError:
                return None
    return None


def read_info_table(path: Path, variants: VariantList) -> np.ndarray:
    """Each model variant's info score from a table (NaN where the table has none)."""
    if not path.is_file():
        raise InputError(f"info_table {path} does not exist")
    wanted = {int(p) for p in variants.pos.tolist()}
    scores: dict[tuple[int, str, str], float] = {}
    with open(path) as fh:
        first = fh.readline().split()
        columns = _columns(first, path)
        if columns is _UKB:
            _add_row(first, columns, wanted, scores, path, 1)
        for lineno, line in enumerate(fh, start=2):
            _add_row(line.split(), columns, wanted, scores, path, lineno)
    out = np.full(len(variants), np.nan)
    if variants.positions_only:
        return out
    for j, (pos, ref, alt) in enumerate(zip(variants.pos.tolist(), variants.ref, variants.alt)):
        score = scores.get((pos, ref, alt), scores.get((pos, alt, ref)))
        out[j] = np.nan if score is None else score
    return out


_UKB = (2, 3, 4, 7)  # position, allele 1, allele 2, info


def _columns(header: list[str], path: Path) -> tuple[int, int, int, int]:
    """The (pos, allele, allele, info) columns of a table from its first line."""
    lower = [h.lower() for h in header]
    if {"pos", "ref", "alt", "info"} <= set(lower):
        return tuple(lower.index(k) for k in ("pos", "ref", "alt", "info"))
    if len(header) >= 8 and header[2].isdigit():
        return _UKB
    raise InputError(
        f"{path}: not an info table: expected UK Biobank's mfi layout (8 columns, no header) or "
        "a header with pos, ref, alt and info"
    )


def _add_row(fields, columns, wanted, scores, path: Path, lineno: int) -> None:
    if not fields:
        return
    pos_c, a_c, b_c, info_c = columns
    try:
        pos = int(fields[pos_c])
        if pos in wanted:
            scores[(pos, fields[a_c].upper(), fields[b_c].upper())] = float(fields[info_c])
    except (ValueError, IndexError):
        raise InputError(
            f"{path}, line {lineno}: expected a position and an info score in columns "
            f"{pos_c + 1} and {info_c + 1}"
        ) from None


def low_quality(quality: np.ndarray, threshold: float) -> np.ndarray:
    """Variants whose known quality is below `threshold`."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(quality) & (quality < threshold)
