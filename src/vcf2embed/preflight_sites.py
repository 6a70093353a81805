"""A tile's variant match estimated from sites alone: a sample of the model's variants looked
up by position, without reading a genotype.

Formats with a variant table (PGEN, BED, BGEN, VCF Zarr) list the sites of the region; VCF and
BCF are queried position by position through cyvcf2 (htslib, index seeks), so a tile costs a few
dozen record reads whatever the cohort's size.
"""

from __future__ import annotations

import numpy as np

from .genotypes.sources.base import Source
from .variants import VariantList


def estimate_match(source: Source, contig: str, variants: VariantList, sample: int) -> float:
    """Share of (up to `sample`, evenly spread) model variants whose position in `source`
    holds both of its alleles, as ref/alt either way or within a multi-allelic record."""
    picks = np.unique(np.linspace(0, len(variants) - 1, min(sample, len(variants))).astype(int))
    ref, alt = variants.ref or ("",) * len(variants), variants.alt or ("",) * len(variants)
    wanted = [(int(variants.pos[j]), ref[j], alt[j]) for j in picks.tolist()]
    sites = _sites(source, contig, [pos for pos, _, _ in wanted])
    found = 0
    for pos, ref, alt in wanted:
        alleles = sites.get(pos, [])
        if variants.positions_only:
            found += bool(alleles)
        else:
            found += any(ref.upper() in a and alt.upper() in a for a in alleles)
    return found / len(wanted) if wanted else 0.0


def _sites(source: Source, contig: str, positions: list[int]) -> dict[int, list[set[str]]]:
    """Position -> allele sets of the records at each of `positions`."""
    sites: dict[int, list[set[str]]] = {}
    if hasattr(source, "region_variants"):
        table = source.region_variants(f"{contig}:{min(positions)}-{max(positions)}")
        wanted = set(positions)
        for pos, alleles in zip(table.pos.tolist(), table.alleles):
            if pos in wanted:
                sites.setdefault(pos, []).append({a.upper() for a in alleles})
        return sites
    import cyvcf2

    vcf = cyvcf2.VCF(str(source.path), lazy=True, threads=1)
    try:
        for pos in sorted(set(positions)):
            for record in vcf(f"{contig}:{pos}-{pos}"):
                if record.POS == pos:
                    alleles = {record.REF.upper(), *(a.upper() for a in record.ALT)}
                    sites.setdefault(pos, []).append(alleles)
    finally:
        vcf.close()
    return sites
