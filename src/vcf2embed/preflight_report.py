"""The `vcf2embed check` command: load a workflow config as Snakemake would, check it, and
print the plan and a table of problems."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .batches import embed_batches
from .config_check import check_config
from .defaults import schema
from .errors import InputError, Vcf2EmbedError
from .preflight import Preflight, check_run
from .text_table import text_table
from .tiles import read_tiles, unmodelled_regions

SHOWN_TILES = 20  # tiles listed unless --all


def load_config(path: Path) -> dict[str, Any]:
    """A workflow config file, checked against the schema, with the schema's defaults."""
    import yaml

    if not path.is_file():
        raise InputError(f"config file {path} does not exist")
    config = yaml.safe_load(path.read_text()) or {}
    check_config(config)
    for key, spec in schema()["properties"].items():
        if "default" in spec:
            config.setdefault(key, spec["default"])
    return config


def cmd_check(args: argparse.Namespace) -> None:
    """Check a config, print the plan and problems; raise if there are problems."""
    config = load_config(Path(args.configfile).resolve())
    os.chdir(args.directory)  # paths inside the config are relative to the working folder
    try:
        tiles = read_tiles(config["tiles"], lab_metadata=config["lab_metadata"])
        unmodelled = unmodelled_regions(config["tiles"], config["lab_metadata"])
    except Vcf2EmbedError as exc:
        raise InputError(f"config tiles: {exc}") from None
    result = check_run(config, tiles)
    print("\n".join(plan_lines(config, result, len(unmodelled), args.all)))
    if result.problems:
        print(f"\nproblems ({len(result.problems)}):")
        print(
            "\n".join(
                text_table(["where", "problem"], [[p.where, p.problem] for p in result.problems])
            )
        )
        raise InputError(f"{len(result.problems)} problem(s) found; see the table above")


def plan_lines(config: dict[str, Any], result: Preflight, unmodelled: int, show_all: bool):
    """The plan: jobs, readers, the largest jobs' memory, the bytes written, the tiles."""
    n = len(result.tiles)
    batches = embed_batches([t.tile_id for t in result.tiles], int(config["tiles_per_embed_job"]))
    readers: dict[str, int] = {}
    for tile in result.tiles:
        name = "none (unreadable file)" if tile.reader == "-" else tile.reader
        readers[name] = readers.get(name, 0) + 1
    samples = ", ".join(f"{s:,}" for s in sorted(set(result.n_samples.values()))) or "-"
    lines = [
        f"tiles: {n} with a model, {unmodelled} lab region(s) without; genotype files: "
        f"{len(result.n_samples)}; samples: {samples}",
        f"jobs: {n} genotypes, {len(batches)} embed ({config['tiles_per_embed_job']} tiles "
        "each at most), 1 QC summary, 1 report (and one publish per extra layer file)",
        "readers: " + ", ".join(f"{r} x{c}" for r, c in sorted(readers.items())),
        f"largest job memory: genotypes {max((t.genotypes_mb for t in result.tiles), default=0):,}"
        f" MB, embed {max((t.embed_mb for t in result.tiles), default=0):,} MB (one tile)",
        f"estimated bytes written: {sum(t.output_bytes for t in result.tiles) / 1e6:,.1f} MB",
        "",
    ]
    header = ["tile", "reader", "contig", "variants", "match~", "genotypes MB", "embed MB", "file"]
    rows = [
        [
            t.tile_id,
            t.reader,
            t.contig,
            f"{t.n_variants:,}",
            "-" if t.match is None else f"{t.match:.0%}",
            f"{t.genotypes_mb:,}",
            f"{t.embed_mb:,}",
            t.path,
        ]
        for t in (result.tiles if show_all else result.tiles[:SHOWN_TILES])
    ]
    lines += text_table(header, rows)
    if not show_all and n > SHOWN_TILES:
        lines.append(f"... {n - SHOWN_TILES} more tiles (--all lists them)")
    return lines
