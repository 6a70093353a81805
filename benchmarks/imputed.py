"""A simulated biobank cohort: msprime, N diploid samples over a short region, as imputed data.

    python benchmarks/imputed.py --samples 50000 [--length 100000]

Writes benchmarks/cache/imputed_<N>/: `gt.vcf.gz` (GT only, phased, as tskit writes it),
`imputed.vcf.gz` (`GT:DS:GP`, three decimals, INFO/R2, as imputation servers write them),
`gt.bcf` (with indexes), and `samples.tsv` (a population label per sample, for `color_by`).
Existing files are reused. Deterministic for a given seed.

The imputed calls are the true genotypes blurred: per call, with probability 0.85 the GP is the
one-hot of the true genotype, else a softened version of it (mass 0.6-0.95 on the truth, the
rest on its neighbours); DS is GP1 + 2 * GP2 and GT the most probable genotype, phased as the
true haplotypes.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / "cache"
POPULATIONS = ("AFR", "EUR", "EAS")


def cohort_dir(samples: int) -> Path:
    """The folder of the cohort with `samples` samples."""
    return CACHE / f"imputed_{samples}"


def simulate(samples: int, length: int, seed: int):
    """An msprime tree sequence of three populations with mutations."""
    import msprime

    demography = msprime.Demography.island_model([10_000] * 3, migration_rate=2e-4)
    per_pop = [samples // 3 + (1 if i < samples % 3 else 0) for i in range(3)]
    ts = msprime.sim_ancestry(
        samples={f"pop_{i}": k for i, k in enumerate(per_pop)},
        demography=demography,
        sequence_length=length,
        recombination_rate=1e-8,
        random_seed=seed,
    )
    return msprime.sim_mutations(ts, rate=2e-8, random_seed=seed + 1)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative integers, zero-padded."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = 48 + v % 10
        v //= 10
    return out


def _fixed3(values: np.ndarray) -> np.ndarray:
    """(n, 5) ASCII of values in [0, 2] with three decimals: `d.ddd`."""
    thousandths = np.rint(values * 1000).astype(np.int64)
    d = _digits(thousandths, 4)
    return np.concatenate([d[:, :1], np.full((len(values), 1), 46, np.uint8), d[:, 1:]], axis=1)


def imputed_calls(hap: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One record's calls as bytes: `a|b:DS:GP0,GP1,GP2` per sample, tab-separated."""
    g = hap[0::2] + hap[1::2]
    n = len(g)
    gp = np.zeros((n, 3))
    gp[np.arange(n), g] = 1.0
    soft = rng.random(n) >= 0.85
    mass = rng.uniform(0.6, 0.95, size=n)
    left = np.where(g == 0, 0.0, np.where(g == 2, 1.0, 0.5))
    blur = np.zeros((n, 3))
    blur[np.arange(n), g] = mass
    blur[np.arange(n), np.maximum(g - 1, 0)] += np.where(g > 0, (1 - mass) * left, 0)
    blur[np.arange(n), np.minimum(g + 1, 2)] += np.where(g < 2, (1 - mass) * (1 - left), 0)
    gp[soft] = blur[soft]
    gp = np.rint(gp * 1000) / 1000
    gp[:, 1] = np.clip(1 - gp[:, 0] - gp[:, 2], 0, 1)
    ds = gp[:, 1] + 2 * gp[:, 2]
    best = gp.argmax(axis=1)
    a = np.where(best == g, hap[0::2], np.where(best == 0, 0, np.where(best == 2, 1, 0)))
    b = np.where(best == g, hap[1::2], np.where(best == 0, 0, np.where(best == 2, 1, 1)))
    cols = [
        48 + a[:, None],
        np.full((n, 1), 124),
        48 + b[:, None],
        np.full((n, 1), 58),
        _fixed3(ds),
        np.full((n, 1), 58),
        _fixed3(gp[:, 0]),
        np.full((n, 1), 44),
        _fixed3(gp[:, 1]),
        np.full((n, 1), 44),
        _fixed3(gp[:, 2]),
        np.full((n, 1), 9),
    ]
    row = np.concatenate([np.asarray(c, dtype=np.uint8) for c in cols], axis=1)
    return row.tobytes()[:-1]


def _bgzip_writer(path: Path) -> tuple[subprocess.Popen, object]:
    out = open(path, "wb")
    proc = subprocess.Popen(["bgzip", "-c", "-@", "2"], stdin=subprocess.PIPE, stdout=out)
    return proc, out


def write_imputed(ts, path: Path, names: list[str], seed: int) -> None:
    """The `GT:DS:GP` VCF of a tree sequence, bgzipped and indexed."""
    rng = np.random.default_rng(seed)
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=22,length=51000000>",
        '##INFO=<ID=R2,Number=1,Type=Float,Description="Estimated imputation accuracy">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Alternate allele dosage">',
        '##FORMAT=<ID=GP,Number=G,Type=Float,Description="Genotype probabilities">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(names),
    ]
    proc, out = _bgzip_writer(path)
    proc.stdin.write(("\n".join(header) + "\n").encode())
    last = 0
    for var in ts.variants():
        if len(var.alleles) != 2 or var.alleles[1] is None:
            continue
        pos = max(last + 1, 1 + int(var.site.position))
        last = pos
        r2 = float(np.clip(rng.beta(8, 1.2), 0, 1))
        head = f"22\t{pos}\t.\t{var.alleles[0]}\t{var.alleles[1]}\t.\tPASS\tR2={r2:.3f}\tGT:DS:GP\t"
        proc.stdin.write(head.encode() + imputed_calls(var.genotypes, rng) + b"\n")
    proc.stdin.close()
    proc.wait()
    out.close()
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)


def write_gt(ts, path: Path, names: list[str]) -> None:
    """The GT-only VCF of a tree sequence (tskit's writer), bgzipped and indexed."""
    proc, out = _bgzip_writer(path)
    with open(proc.stdin.fileno(), "w", closefd=False) as text:
        ts.write_vcf(
            text,
            contig_id="22",
            individual_names=names,
            position_transform=lambda x: 1 + np.asarray(x).astype(int),
        )
    proc.stdin.close()
    proc.wait()
    out.close()
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)


def make_imputed(samples: int, length: int = 40_000, seed: int = 7) -> Path:
    """Simulate (once) and return the folder of the cohort."""
    folder = cohort_dir(samples)
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / ".complete"
    if done.exists():
        return folder
    ts = simulate(samples, length, seed)
    names = [f"S{i:07d}" for i in range(samples)]
    pops = [POPULATIONS[ts.node(ts.individual(i).nodes[0]).population] for i in range(samples)]
    (folder / "samples.tsv").write_text(
        "sample_id\tpopulation\n" + "".join(f"{s}\t{p}\n" for s, p in zip(names, pops))
    )
    write_gt(ts, folder / "gt.vcf.gz", names)
    write_imputed(ts, folder / "imputed.vcf.gz", names, seed)
    bcf = folder / "gt.bcf"
    subprocess.run(
        ["bcftools", "view", "--threads", "2", "-Ob", "-o", str(bcf), str(folder / "gt.vcf.gz")],
        check=True,
    )
    subprocess.run(["bcftools", "index", "-f", str(bcf)], check=True)
    done.touch()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--length", type=int, default=40_000)
    args = parser.parse_args()
    print(make_imputed(args.samples, args.length))


if __name__ == "__main__":
    main()
