"""Regenerate the bundled example: a simulated cohort, its tile table and one trained model per tile.

The models are trained by `vcf2embed.train.train_from_vcf`, the code behind `vcf2embed train`,
on a separate simulated panel of the same populations.

Deterministic: the same seeds give the same VCF, tile table and weights. Needs the `dev` extra
(msprime); bgzip and tabix come from pysam. Run from anywhere: `python resources/example/generate.py`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import msprime
import numpy as np
import pysam

from vcf2embed.tiles import Tile
from vcf2embed.train import save_trained, train_from_vcf
from vcf2embed.train_settings import TrainSettings

HERE = Path(__file__).resolve().parent
SEED = 20261129
CHROM = "22"
OFFSET = 17_000_000
LENGTH = 1_500_000
POPULATIONS = ("AFR", "EUR", "EAS")
COHORT_PER_POP = 110  # diploid samples per population in the cohort VCF
PANEL_PER_POP = 90  # diploid samples per population used only to train the models
MISSING_RATE = 0.02
HALF_MISSING_RATE = 0.002
SWAP_RATE = 0.02
MIN_PANEL_MAF = 0.05
TILES = (  # tile_id, start, end (1-based, inclusive, on the OFFSET coordinates), format, activation
    ("tile01", 1, 220_000, "lab", "relu"),
    ("tile02", 300_001, 520_000, "bundle", "tanh"),
    ("tile03", 480_001, 700_000, "bundle", "leakyrelu"),
    ("tile04", 850_001, 1_070_000, "bundle", "relu"),
    ("tile05", 1_200_001, 1_420_000, "bundle", "sigmoid"),
)


def simulate() -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]], list[str]]:
    """Return haplotypes (sites, 2*samples), positions, alleles and sample populations."""
    demography = msprime.Demography()
    for name in POPULATIONS:
        demography.add_population(name=name, initial_size=10_000)
    demography.add_population(name="OOA", initial_size=5_000)
    demography.add_population(name="ANC", initial_size=10_000)
    demography.add_population_split(time=800, derived=["EUR", "EAS"], ancestral="OOA")
    demography.add_population_split(time=2_500, derived=["AFR", "OOA"], ancestral="ANC")
    demography.set_symmetric_migration_rate(["EUR", "EAS"], 2e-5)
    per_pop = COHORT_PER_POP + PANEL_PER_POP
    ts = msprime.sim_ancestry(
        samples={p: per_pop for p in POPULATIONS},
        demography=demography,
        sequence_length=LENGTH,
        recombination_rate=1e-8,
        random_seed=SEED,
    )
    ts = msprime.sim_mutations(ts, rate=1.2e-8, random_seed=SEED + 1)
    haps, positions, alleles = [], [], []
    last = -1
    for var in ts.variants():
        pos = int(var.site.position) + 1
        if len(var.alleles) != 2 or pos == last:
            continue
        last = pos
        haps.append(var.genotypes.astype(np.int8))
        positions.append(pos + OFFSET)
        alleles.append((var.alleles[0], var.alleles[1]))
    pops = [
        ts.population(ts.node(ind.nodes[0]).population).metadata["name"] for ind in ts.individuals()
    ]
    return np.asarray(haps), np.asarray(positions), alleles, pops


def write_vcf(
    path: Path, haps: np.ndarray, positions, alleles, samples: list[str], rng, noisy: bool = True
) -> None:
    """Write a phased, bgzipped and indexed VCF; `noisy` adds missing, half-missing and swapped calls."""
    n = len(samples)
    lines = [
        "##fileformat=VCFv4.2",
        "##source=vcf2embed resources/example/generate.py (msprime)",
        f"##contig=<ID={CHROM},length={OFFSET + LENGTH + 1}>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    for i in range(len(positions)):
        h = haps[i].reshape(n, 2)
        if h.min() == h.max():
            continue  # monomorphic in the cohort: not in the VCF
        ref, alt = alleles[i]
        if noisy and rng.random() < SWAP_RATE:
            ref, alt, h = alt, ref, 1 - h
        text = np.char.add(np.char.add(h[:, 0].astype(str), "|"), h[:, 1].astype(str))
        draw = rng.random(n) if noisy else np.ones(n)
        text[draw < MISSING_RATE] = ".|."
        half = (draw >= MISSING_RATE) & (draw < MISSING_RATE + HALF_MISSING_RATE)
        text[half] = np.char.add(".|", h[half, 1].astype(str))
        lines.append(
            f"{CHROM}\t{positions[i]}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t" + "\t".join(text)
        )
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to `path`, then indexes


def main() -> None:
    """Regenerate everything under resources/example/."""
    haps, positions, alleles, pops = simulate()
    per_pop = COHORT_PER_POP + PANEL_PER_POP
    cohort_idx, panel_idx, cohort_names, cohort_pops = [], [], [], []
    for pop in POPULATIONS:
        members = [i for i, p in enumerate(pops) if p == pop]
        assert len(members) == per_pop
        cohort_idx += members[:COHORT_PER_POP]
        panel_idx += members[COHORT_PER_POP:]
        cohort_names += [f"{pop}{k + 1:04d}" for k in range(COHORT_PER_POP)]
        cohort_pops += [pop] * COHORT_PER_POP
    hap_cols = lambda idx: np.concatenate([[2 * i, 2 * i + 1] for i in idx])  # noqa: E731
    rng = np.random.default_rng(SEED + 2)
    for old in ("models", "cohort.vcf.gz", "cohort.vcf.gz.tbi"):
        target = HERE / old
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    write_vcf(
        HERE / "cohort.vcf.gz", haps[:, hap_cols(cohort_idx)], positions, alleles, cohort_names, rng
    )
    (HERE / "samples.tsv").write_text(
        "sample_id\tpopulation\n"
        + "".join(f"{s}\t{p}\n" for s, p in zip(cohort_names, cohort_pops))
    )
    panel_names = [f"PANEL{k + 1:04d}" for k in range(len(panel_idx))]
    rows = ["tile_id\tchrom\tstart\tend\tmodel"]
    with tempfile.TemporaryDirectory() as tmp:
        # the training panel: separate samples, no missing calls, no swapped records
        panel_vcf = Path(tmp) / "panel.vcf.gz"
        clean = np.random.default_rng(0)
        write_vcf(
            panel_vcf,
            haps[:, hap_cols(panel_idx)],
            positions,
            alleles,
            panel_names,
            clean,
            noisy=False,
        )
        for tile_id, start, end, fmt, activation in TILES:
            lo, hi = OFFSET + start, OFFSET + end
            settings = TrainSettings(
                activation=activation,
                size_ratio=0.25,
                learning_rate=3e-3,
                epochs=400,
                patience=40,
                seed=SEED % 1000,
            )
            tile = Tile(tile_id, CHROM, lo, hi, HERE / "models" / tile_id)
            result, variants = train_from_vcf(panel_vcf, tile, settings, min_maf=MIN_PANEL_MAF)
            print(
                f"{tile_id}: {len(variants)} variants, best epoch {result.best_epoch}, validation "
                f"concordance {result.validation_concordance:.4f} "
                f"(masked {result.validation_masked_concordance:.4f})"
            )
            out = save_trained(result, variants, HERE / "models" / tile_id, fmt)
            model_path = out.relative_to(HERE).as_posix()
            rows.append(f"{tile_id}\t{CHROM}\t{lo}\t{hi}\t{model_path}")
    (HERE / "tiles.tsv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
