# Shared helpers: the tile table, the VCF of each tile and each tile's model files.
import json

from snakemake.exceptions import WorkflowError

from vcf2embed.errors import Vcf2EmbedError
from vcf2embed.genotypes import resolve_vcf_path
from vcf2embed.tiles import read_tiles

OUTDIR = config.get("outdir", "results").rstrip("/")

try:
    TILES = {tile.tile_id: tile for tile in read_tiles(config["tiles"])}
except Vcf2EmbedError as exc:
    raise WorkflowError(f"config tiles: {exc}")

TILE_IDS = list(TILES)


wildcard_constraints:
    tile="|".join(TILE_IDS),


def tile_vcf(wildcards):
    """The VCF (and its index) holding a tile's records."""
    try:
        vcf = resolve_vcf_path(config["vcf"], TILES[wildcards.tile])
    except Vcf2EmbedError as exc:
        raise WorkflowError(f"config vcf: {exc}")
    return [str(vcf)]


def model_files(wildcards):
    """The files a tile's model consists of, so that changing them reruns the tile."""
    model = TILES[wildcards.tile].model
    if model.is_dir():
        return [
            str(model / name)
            for name in ("model.json", "model.safetensors", "variants.tsv")
        ]
    stem = model.with_suffix("")
    files = [model, stem.with_name(stem.name + "_param.py")]
    pos = stem.with_name(stem.name + ".pos")
    files.append(pos if pos.exists() else stem.with_name(stem.name + "_pos.txt"))
    return [str(f) for f in files]


def samples_input(wildcards):
    """The samples file, when one is configured."""
    return [config["samples"]] if config.get("samples") else []


def samples_arg(wildcards, input):
    """The --samples option for the genotypes command."""
    return f"--samples '{input.samples[0]}'" if input.samples else ""


def layers_arg():
    """The --layers option for the embed command."""
    layers = config.get("layers", [])
    return "--layers " + " ".join(f"'{layer}'" for layer in layers) if layers else ""


def flag(name, option):
    """A command-line flag set from a boolean config value."""
    return option if config.get(name, False) else ""
