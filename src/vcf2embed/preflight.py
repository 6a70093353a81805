"""`vcf2embed check`: does a config's tiles, genotype files, samples and models fit together?

Every tile is checked without reading a genotype: its file is found and opened (index,
companions, header), its contig looked up (a `chr` prefix either way is fine), its model loaded
(weights only, never code) and its variant match estimated from the sites at a sample of the
model's positions. Problems are collected, not raised, so one run names them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .errors import Vcf2EmbedError
from .genotypes.paths import pick_contig, resolve_vcf_path
from .genotypes.samples import read_samples_file
from .genotypes.sources import choose_source
from .genotypes.sources.base import Source
from .job_resources import embed_mem_mb, genotypes_mem_mb
from .preflight_sites import estimate_match
from .tiles import Tile
from .variants import VariantList

MATCH_SAMPLE = 50  # model variants looked up per tile to estimate its match


@dataclass
class Problem:
    """One thing that would stop or spoil a run: where, and what to do."""

    where: str
    problem: str


@dataclass
class TilePlan:
    """What the run would do with one tile."""

    tile_id: str
    path: str
    reader: str = "-"
    contig: str = "-"
    n_variants: int = 0
    match: float | None = None
    latent_width: int = 0
    genotypes_mb: int = 0
    embed_mb: int = 0
    output_bytes: int = 0


@dataclass
class Preflight:
    """The outcome of a check: every tile's plan and every problem found."""

    tiles: list[TilePlan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    n_samples: dict[str, int] = field(default_factory=dict)  # per genotype file

    def note(self, where: str, exc: Vcf2EmbedError) -> None:
        """Record a problem from a vcf2embed error."""
        self.problems.append(Problem(where, str(exc)))


def check_run(config: dict[str, Any], tiles: list[Tile]) -> Preflight:
    """Check every tile of a validated `config`."""
    result = Preflight()
    sources: dict[Path, Source | Vcf2EmbedError] = {}
    keep = _keep_list(config, result)
    for tile in tiles:
        plan = TilePlan(tile.tile_id, "-")
        result.tiles.append(plan)
        try:
            path = resolve_vcf_path(config["vcf"], tile)
        except Vcf2EmbedError as exc:
            result.note(tile.tile_id, exc)
            continue
        plan.path = str(path)
        source = _open(path, config, sources, keep, result)
        if source is not None:
            _check_tile(tile, source, config, plan, result)
    return result


def _keep_list(config: dict[str, Any], result: Preflight) -> list[str] | None:
    """The `samples:` file's IDs, or None (all samples)."""
    if not config.get("samples"):
        return None
    try:
        return read_samples_file(config["samples"])
    except Vcf2EmbedError as exc:
        result.note(f"samples: {config['samples']}", exc)
        return None


def _open(
    path: Path,
    config: dict[str, Any],
    sources: dict[Path, Source | Vcf2EmbedError],
    keep: list[str] | None,
    result: Preflight,
) -> Source | None:
    """The source of `path`, opened once; its problems recorded once."""
    if path not in sources:
        try:
            sources[path] = choose_source(path, config["genotype_field"], config["reader"])
        except Vcf2EmbedError as exc:
            sources[path] = exc
            result.note(str(path), exc)
        else:
            _check_samples(path, sources[path].header.samples, keep, result)
    found = sources[path]
    return None if isinstance(found, Vcf2EmbedError) else found


def _check_samples(path: Path, samples: list[str], keep: list[str] | None, result: Preflight):
    """Record the file's sample count and any `samples:` ID it lacks."""
    present = set(samples)
    missing = [s for s in keep or [] if s not in present]
    result.n_samples[str(path)] = len(keep) if keep else len(samples)
    if missing:
        result.problems.append(
            Problem(
                str(path),
                f"{len(missing)} of the {len(keep)} IDs of `samples:` are not in the file "
                f"(e.g. {', '.join(missing[:3])}); check the IDs (PLINK: IID, BGEN: ID_2)",
            )
        )


def _check_tile(
    tile: Tile, source: Source, config: dict[str, Any], plan: TilePlan, result: Preflight
) -> None:
    """Contig, model and variant match of one tile."""
    plan.reader = source.reader
    try:
        plan.contig = pick_contig(source.header.contigs, source.path, tile.chrom)
        model = _load(tile, config)
    except Vcf2EmbedError as exc:
        result.note(tile.tile_id, exc)
        return
    variants, plan.latent_width = model
    plan.n_variants = len(variants)
    plan.match = estimate_match(source, plan.contig, variants, MATCH_SAMPLE)
    minimum = config["min_variant_match"]
    if plan.match < minimum:
        result.problems.append(Problem(tile.tile_id, _low_match(plan, minimum, source.path)))
    _estimate_size(plan, result.n_samples[str(source.path)], config)


def _load(tile: Tile, config: dict[str, Any]) -> tuple[VariantList, int]:
    """The tile's model variants and latent width; raise if the model does not load."""
    if tile.model is None:
        raise _NoModel(f"no model: the workflow trains one ({tile.region})")
    return _model_facts(tile.model, tile.chrom, config["allow_user_code"])


@cache
def _model_facts(path: Path, chrom: str, allow_user_code: bool) -> tuple[VariantList, int]:
    """A model's variants and latent width, loaded once however many tiles share it."""
    from .models import load_model

    model = load_model(path, chrom, allow_user_code=allow_user_code)
    return model.variants, _latent_width(model)


class _NoModel(Vcf2EmbedError):
    pass


def _latent_width(model: Any) -> int:
    """The width of the model's latent layer, from one forward pass of a single sample."""
    import torch

    from .hooks import capture

    with (
        torch.inference_mode(),
        capture(model.module.eval(), ["latent"], latent=model.latent) as acts,
    ):
        model.module(torch.zeros(1, model.n_inputs))
    latent = next(v for k, v in acts.items() if k.split("@")[0] == model.latent)
    return int(latent.reshape(1, -1).shape[1])


def _low_match(plan: TilePlan, minimum: float, path: Path) -> str:
    """The message of a tile whose estimated match is below `min_variant_match`."""
    hint = (
        "none of the model's positions hold its alleles: a different genome build "
        "(GRCh37 vs GRCh38) or a different chromosome?"
        if plan.match == 0
        else "a different variant set or allele normalisation?"
    )
    return (
        f"about {plan.match:.0%} of the model's variants are in {path.name} on {plan.contig}, "
        f"below min_variant_match {minimum:g}: {hint}"
    )


def _estimate_size(plan: TilePlan, samples: int, config: dict[str, Any]) -> None:
    """Memory per job and bytes written, from samples x variants."""
    dosage = config["genotype_field"] != "GT"
    plan.genotypes_mb = genotypes_mem_mb(samples, plan.n_variants, dosage)
    plan.embed_mb = embed_mem_mb(samples, plan.n_variants, dosage)
    store = samples * plan.n_variants * (2.0 if dosage else 0.3)  # packed calls (+ uint16)
    plan.output_bytes = int(store + samples * plan.latent_width * 4)
