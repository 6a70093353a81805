"""The benchmark cohort: msprime, 2,504 diploid samples, about 30 Mb of chromosome 22.

    python benchmarks/cohort.py [--samples 2504] [--length 30000000]

Writes benchmarks/cache/cohort_<samples>.vcf.gz and .bcf with indexes (ignored by git); an
existing file is reused. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

CACHE = Path(__file__).resolve().parent / "cache"


def cohort_paths(samples: int) -> tuple[Path, Path]:
    """VCF.gz and BCF paths of the cohort with `samples` samples."""
    return CACHE / f"cohort_{samples}.vcf.gz", CACHE / f"cohort_{samples}.bcf"


def make_cohort(
    samples: int = 2504, length: int = 30_000_000, seed: int = 1000
) -> tuple[Path, Path]:
    """Simulate (once) and return the VCF.gz and BCF of the benchmark cohort."""
    vcf, bcf = cohort_paths(samples)
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (vcf.exists() and Path(f"{vcf}.tbi").exists()):
        import msprime
        import numpy as np

        ts = msprime.sim_ancestry(
            samples=samples,
            population_size=10_000,
            sequence_length=length,
            recombination_rate=1e-8,
            random_seed=seed,
        )
        ts = msprime.sim_mutations(ts, rate=1.25e-8, random_seed=seed + 1)
        tmp = vcf.with_name(vcf.name + ".part")
        with open(tmp, "wb") as out:
            bgzip = subprocess.Popen(["bgzip", "-c", "-@", "2"], stdin=subprocess.PIPE, stdout=out)
            assert bgzip.stdin is not None
            with open(bgzip.stdin.fileno(), "w", closefd=False) as text:
                ts.write_vcf(
                    text,
                    contig_id="22",
                    individual_names=[f"S{i:06d}" for i in range(samples)],
                    position_transform=lambda x: 1 + np.asarray(x).astype(int),
                )
            bgzip.stdin.close()
            if bgzip.wait() != 0:
                raise SystemExit("bgzip failed")
        tmp.replace(vcf)
        subprocess.run(["tabix", "-f", "-p", "vcf", str(vcf)], check=True)
    if not (bcf.exists() and Path(f"{bcf}.csi").exists()):
        subprocess.run(
            ["bcftools", "view", "--threads", "2", "-Ob", "-o", str(bcf), str(vcf)], check=True
        )
        subprocess.run(["bcftools", "index", "-f", "-c", str(bcf)], check=True)
    return vcf, bcf


def main() -> None:
    """Make the cohort from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2504)
    parser.add_argument("--length", type=int, default=30_000_000)
    args = parser.parse_args()
    for path in make_cohort(args.samples, args.length):
        print(path)


if __name__ == "__main__":
    main()
