"""Reading a tile's genotypes: open its source, align the region's records, check the match."""

from __future__ import annotations

import logging
from pathlib import Path

from ..defaults import default
from ..errors import AlignmentError, InputError
from ..tiles import Tile
from ..variants import VariantList
from .aligner import Aligner
from .paths import pick_contig
from .qc import AlignmentQC
from .records import GENOTYPE_FIELDS
from .samples import sample_order
from .sources import choose_source
from .tile import TileGenotypes, blocked_transpose

log = logging.getLogger(__name__)


def read_tile_genotypes(
    vcf_path: str | Path,
    tile: Tile,
    variants: VariantList,
    samples: list[str] | None = None,
    genotype_field: str = default("genotype_field"),
    min_variant_match: float = default("min_variant_match"),
    reader: str = default("reader"),
) -> TileGenotypes:
    """Read `tile`'s records and align them to `variants`; raise if too few match.

    `reader`: `text` parses the raw GT text of bgzipped VCFs and `bcf` the binary records of
    BCF files with numpy (fast), `cyvcf2` reads any VCF/BCF through cyvcf2; `auto` picks the
    first that applies. All give equal results.
    """
    if genotype_field not in GENOTYPE_FIELDS:
        raise InputError(
            f"genotype_field {genotype_field!r}: use one of {', '.join(GENOTYPE_FIELDS)}"
        )
    path = Path(vcf_path)
    source = choose_source(path, genotype_field, reader)
    header = source.header
    order = sample_order(header.samples, samples, path)
    if genotype_field not in header.fields:
        raise InputError(
            f"{path}: the header declares no FORMAT/{genotype_field} field; a VCF with genotypes "
            f"needs it (or set genotype_field to one the VCF has: "
            f"{', '.join(sorted(header.fields)) or 'none'})"
        )
    contig = pick_contig(header.contigs, path, tile.chrom)
    region = f"{contig}:{int(variants.pos.min())}-{int(variants.pos.max())}"
    qc = AlignmentQC(n_model_variants=len(variants), n_samples=len(order))
    aligner = Aligner(variants, order, qc, path, genotype_field)
    source.read_region(region, aligner, f"tile {tile.tile_id}: reading {region}")
    aligner.finish()
    if variants.positions_only:
        log.warning(
            "tile %s: the model's variant list (%s) has positions only; matched %d variants by "
            "position without checking alleles",
            tile.tile_id,
            variants.source,
            qc.matched_by_position,
        )
    if qc.match_rate < min_variant_match or qc.matched == 0:
        raise AlignmentError(low_match_message(tile, path, qc, min_variant_match))
    return TileGenotypes(
        tile_id=tile.tile_id,
        samples=[header.samples[i] for i in order],
        alleles_vm=aligner.alleles_vm,
        phased_vm=aligner.phased_vm,
        dosage=blocked_transpose(aligner.dosage) if aligner.dosage is not None else None,
        qc=qc,
        source={
            "vcf": str(path),
            "region": region,
            "genotype_field": genotype_field,
            "reader": source.reader,
        },
    )


def low_match_message(tile: Tile, path: Path, qc: AlignmentQC, threshold: float) -> str:
    """Why a tile matched too few model variants, and the likely cause."""
    cause = "the VCF may not cover this region, or the model's variants were called differently"
    if qc.records_read == 0:
        cause = (
            "the VCF has no records in this region: check the genome build and the contig naming "
            "(chr prefix)"
        )
    elif qc.records_not_in_model > qc.matched:
        cause = (
            "most records at these positions do not match the model's variants: the VCF may use "
            "another genome build than the model"
        )
    below = f", below min_variant_match {threshold:.0%}" if qc.match_rate < threshold else ""
    return (
        f"tile {tile.tile_id}: only {qc.matched} of {qc.n_model_variants} model variants "
        f"({qc.match_rate:.1%}) were found in {path}{below}; "
        f"missing e.g. {', '.join(qc.missing_examples)}; likely cause: {cause}"
    )
