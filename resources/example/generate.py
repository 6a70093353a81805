"""Regenerate the bundled example: a simulated cohort, its tile table and one trained model per tile.

Deterministic: the same seeds give the same VCF, tile table and weights. Needs the `dev` extra
(msprime) and `bgzip`/`tabix` on PATH. Run from anywhere: `python resources/example/generate.py`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import msprime
import numpy as np
import torch

from vcf2embed.models import save_bundle
from vcf2embed.train import TrainSettings, train_autoencoder
from vcf2embed.variants import VariantList

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


def write_vcf(path: Path, haps: np.ndarray, positions, alleles, samples: list[str], rng) -> None:
    """Write a phased, bgzipped and indexed VCF with missing, half-missing and swapped calls."""
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
        if rng.random() < SWAP_RATE:
            ref, alt, h = alt, ref, 1 - h
        text = np.char.add(np.char.add(h[:, 0].astype(str), "|"), h[:, 1].astype(str))
        draw = rng.random(n)
        text[draw < MISSING_RATE] = ".|."
        half = (draw >= MISSING_RATE) & (draw < MISSING_RATE + HALF_MISSING_RATE)
        text[half] = np.char.add(".|", h[half, 1].astype(str))
        lines.append(
            f"{CHROM}\t{positions[i]}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t" + "\t".join(text)
        )
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)


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
    panel = haps[:, hap_cols(panel_idx)]
    freq = panel.mean(axis=1)
    maf = np.minimum(freq, 1 - freq)
    rows = ["tile_id\tchrom\tstart\tend\tmodel"]
    for tile_id, start, end, fmt, activation in TILES:
        lo, hi = OFFSET + start, OFFSET + end
        keep = np.nonzero((positions >= lo) & (positions <= hi) & (maf >= MIN_PANEL_MAF))[0]
        variants = VariantList(
            chrom=tuple([CHROM] * len(keep)),
            pos=positions[keep],
            ref=tuple(alleles[k][0] for k in keep),
            alt=tuple(alleles[k][1] for k in keep),
            source=tile_id,
        )
        geno = panel[keep].T.reshape(len(panel_idx), 2, len(keep)).transpose(0, 2, 1)
        settings = TrainSettings(
            activation=activation,
            size_ratio=0.25,
            learning_rate=3e-3,
            epochs=400,
            patience=40,
            seed=SEED % 1000,
        )
        result = train_autoencoder(np.ascontiguousarray(geno, dtype=np.int8), settings)
        print(
            f"{tile_id}: {len(keep)} variants, best epoch {result.best_epoch}, validation "
            f"concordance {result.validation_concordance:.4f} "
            f"(masked {result.validation_masked_concordance:.4f})"
        )
        folder = HERE / "models" / tile_id
        folder.mkdir(parents=True, exist_ok=True)
        if fmt == "lab":
            torch.save(result.module.state_dict(), folder / f"{tile_id}.pth")
            (folder / f"{tile_id}_param.py").write_text(
                f"n_layers = {settings.n_layers}\nsize_ratio = {settings.size_ratio}\n"
                f"activation = '{activation}'\nlast_epoch = {len(result.history) - 1}\n"
                f"early_stop = {settings.patience}\n"
            )
            pos_lines = ["#CHROM\tPOS\tID\tREF\tALT"] + [
                f"{CHROM}\t{p}\t.\t{r}\t{a}"
                for p, r, a in zip(variants.pos, variants.ref, variants.alt)
            ]
            (folder / f"{tile_id}.pos").write_text("\n".join(pos_lines) + "\n")
            model_path = f"models/{tile_id}/{tile_id}.pth"
        else:
            width = 2 * len(keep)
            arch = {
                "name": "lab_autoencoder",
                "ni": width,
                "no": width,
                "n_layers": settings.n_layers,
                "size_ratio": settings.size_ratio,
                "activation": activation,
            }
            save_bundle(folder, result.module, variants, arch, extra={"training": result.summary()})
            model_path = f"models/{tile_id}"
        rows.append(f"{tile_id}\t{CHROM}\t{lo}\t{hi}\t{model_path}")
    (HERE / "tiles.tsv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
