"""Independent reference computations for the tests: bcftools output, plain Python, numpy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from htstools import bcftools


def bcftools_query(
    vcf: Path, region: str | None = None, samples: list[str] | None = None
) -> tuple[list[str], list[dict]]:
    """Return sample names and records (chrom, pos, ref, alts, gts) as bcftools prints them."""
    base = ["query"]
    if region:
        base += ["-r", region]
    if samples:
        base += ["-s", ",".join(samples)]
    names = bcftools(*base, "-l", vcf).split()
    if samples:
        names = samples
    out = bcftools(*base, "-f", "%CHROM\t%POS\t%REF\t%ALT[\t%GT]\n", vcf)
    records = []
    for line in out.splitlines():
        f = line.split("\t")
        records.append(
            {"chrom": f[0], "pos": int(f[1]), "ref": f[2], "alts": f[3].split(","), "gts": f[4:]}
        )
    return names, records


def gt_to_codes(gt: str, alleles: list[str], ref: str, alt: str) -> tuple[int, int]:
    """Model allele codes (0 ref, 1 alt, -1 missing) of one GT string, both missing if any is."""
    parts = re.split(r"[|/]", gt)
    if len(parts) == 1:
        parts = parts * 2  # haploid: homozygous
    codes = []
    for p in parts:
        if p == ".":
            return (-1, -1)
        allele = alleles[int(p)]
        codes.append(0 if allele == ref else 1 if allele == alt else -1)
    if -1 in codes:
        return (-1, -1)
    return tuple(codes)


def oracle_alleles(
    vcf: Path, region: str, variants: list[tuple[int, str, str]], samples: list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Aligned (samples, variants, 2) codes computed from `bcftools query` output alone."""
    names, records = bcftools_query(vcf, region, samples)
    out = np.full((len(names), len(variants), 2), -1, dtype=np.int8)
    for j, (pos, ref, alt) in enumerate(variants):
        best = None
        for rec in records:
            if rec["pos"] != pos:
                continue
            alleles = [rec["ref"], *rec["alts"]]
            if alleles == [ref, alt]:
                rank = 0
            elif alleles == [alt, ref]:
                rank = 1
            elif len(alleles) > 2 and ref in alleles and alt in alleles:
                rank = 2
            else:
                continue
            if best is None or rank < best[0]:
                best = (rank, rec, alleles)
        if best is None:
            continue
        _, rec, alleles = best
        for i, gt in enumerate(rec["gts"]):
            out[i, j] = gt_to_codes(gt, alleles, ref, alt)
    return names, out


def encode_presence(codes: np.ndarray) -> np.ndarray:
    """Allele presence written out per call, the slow obvious way."""
    n, v, _ = codes.shape
    x = np.zeros((n, 2 * v), dtype=np.float64)
    for i in range(n):
        for j in range(v):
            a, b = codes[i, j]
            if a < 0:
                continue
            x[i, 2 * j] = 1.0 if 0 in (a, b) else 0.0
            x[i, 2 * j + 1] = 1.0 if 1 in (a, b) else 0.0
    return x


ACT = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "leakyrelu": lambda z: np.where(z > 0, z, 0.01 * z),
}


def model_weights(
    model_path: Path,
) -> tuple[dict[str, np.ndarray], str, list[tuple[int, str, str]]]:
    """Weights as numpy, activation name and (pos, ref, alt) list, read straight from the files."""
    if model_path.is_dir():
        from safetensors.numpy import load_file

        weights = load_file(str(model_path / "model.safetensors"))
        meta = json.loads((model_path / "model.json").read_text())
        activation = meta["architecture"]["activation"]
        rows = (model_path / "variants.tsv").read_text().splitlines()[1:]
        variants = [(int(r.split("\t")[1]), r.split("\t")[2], r.split("\t")[3]) for r in rows]
    else:
        import torch

        state = torch.load(model_path, map_location="cpu", weights_only=True)
        weights = {k: v.numpy() for k, v in state.items()}
        param = model_path.with_name(model_path.stem + "_param.py").read_text()
        activation = re.search(r"activation\s*=\s*['\"](\w+)['\"]", param).group(1)
        pos_lines = model_path.with_suffix(".pos").read_text().splitlines()
        variants = []
        for line in pos_lines:
            if line.startswith("#"):
                continue
            f = line.split()
            variants.append((int(f[1]), f[3], f[4]))
    return weights, activation, variants


def encoder_forward(x: np.ndarray, weights: dict[str, np.ndarray], activation: str) -> np.ndarray:
    """The encoder's forward pass in float64 numpy: Linear then activation, layer by layer."""
    layer = 0
    h = x.astype(np.float64)
    while f"encoder.{layer}.weight" in weights:
        w = weights[f"encoder.{layer}.weight"].astype(np.float64)
        b = weights[f"encoder.{layer}.bias"].astype(np.float64)
        h = ACT[activation](h @ w.T + b)
        layer += 2
    return h


def variant_present(vcf: Path, variant: tuple[int, str, str], contig: str = "1") -> bool:
    """True when bcftools shows a record holding both of the variant's alleles at its position."""
    pos, ref, alt = variant
    _, records = bcftools_query(vcf, f"{contig}:{pos}-{pos}")
    return any(
        rec["pos"] == pos
        and ref in [rec["ref"], *rec["alts"]]
        and alt in [rec["ref"], *rec["alts"]]
        for rec in records
    )
