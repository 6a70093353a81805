"""Reading a tile's genotypes: open its source, align the region's records, check the match."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..defaults import DEFAULT_THREADS, default
from ..errors import AlignmentError, InputError
from ..tiles import Tile
from ..variants import VariantList, normalize_chrom
from .aligner import Aligner
from .paths import pick_contig
from .qc import AlignmentQC
from .quality import read_info_table
from .records import GENOTYPE_FIELDS, all_in_order
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
    min_info_r2: float = default("min_info_r2"),
    info_table: str | Path | None = None,
    threads: int = DEFAULT_THREADS,
) -> TileGenotypes:
    """Read `tile`'s records and align them to `variants`; raise if too few match.

    `min_info_r2` > 0 gives variants imputed with a lower quality (INFO R2/DR2/INFO of their
    record, or `info_table`'s score) the missing encoding, counted in the QC.

    `reader`: `text` parses the raw GT text of bgzipped VCFs and `bcf` the binary records of
    BCF files with numpy (fast), `cyvcf2` reads any VCF/BCF through cyvcf2; `auto` picks the
    first that applies. All give equal results.

    `threads` 2 or more: PGEN, BED, BGEN and VCZ records are converted on a helper thread while
    the format's library reads the next ones (the genotypes rule gives large tiles 2).
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
    aligner = Aligner(variants, order, qc, path, genotype_field, threads)
    if min_info_r2 > 0:
        aligner.quality = np.full(len(variants), np.nan)
    source.read_region(region, aligner, f"tile {tile.tile_id}: reading {region}")
    aligner.finish()
    if min_info_r2 > 0:
        apply_min_info(aligner, tile, path, variants, min_info_r2, info_table)
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
        samples=[header.samples[i] for i in order.tolist()]
        if not all_in_order(order, len(header.samples))
        else list(header.samples),
        alleles_vm=aligner.alleles_vm,
        phased_vm=aligner.phased_vm,
        dosage=blocked_transpose(aligner.dosage) if aligner.dosage is not None else None,
        presence=aligner.presence,
        qc=qc,
        source={
            "vcf": str(path),
            "region": region,
            "genotype_field": genotype_field,
            "reader": source.reader,
        },
    )


def apply_min_info(
    aligner: Aligner,
    tile: Tile,
    path: Path,
    variants: VariantList,
    threshold: float,
    info_table: str | Path | None,
) -> None:
    """Give the tile's poorly imputed variants the missing encoding (table scores first)."""
    quality = aligner.quality
    if info_table:
        table_path = Path(str(info_table).replace("{chrom}", normalize_chrom(tile.chrom)))
        table = read_info_table(table_path, variants)
        quality = np.where(np.isfinite(table), table, quality)
    found = np.zeros(len(variants), dtype=bool)
    found[list(aligner.kinds)] = True
    if found.any() and not np.isfinite(quality[found]).any():
        raise InputError(
            f"tile {tile.tile_id}: min_info_r2 is set, but neither {path} (INFO R2, DR2 or "
            "INFO) nor an info table gives an imputation quality for its variants; set "
            "`info_table` (e.g. UK Biobank's mfi files), or min_info_r2: 0"
        )
    aligner.drop_low_quality(quality, threshold)


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
