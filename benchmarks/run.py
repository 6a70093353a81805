"""Every performance comparison side by side, printed as ratios, with pass/fail per target.

    python benchmarks/run.py [--quick]

Generates (once, cached in benchmarks/cache/) the msprime cohorts, then measures, on this machine
and in this one run: genotype extraction against `bcftools view -Ou` and a plain cyvcf2 loop
(VCF.gz and BCF), hook overhead, Parquet writing's share of an embed job, the whole workflow on
40 tiles against its genotype steps alone, peak memory per job against its budget, and time per
genotype at 500, 2,504 and 10,000 samples. Writes benchmarks/RESULTS.md (its "Targets" section).
No absolute time is asserted anywhere: only ratios measured side by side.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from cohort import CACHE, make_cohort  # noqa: E402
from results_md import write_section  # noqa: E402

from vcf2embed.tiles import Tile  # noqa: E402
from vcf2embed.variants import VariantList  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
# as on a user's machine, Python caches compiled modules (some CI images turn that off)
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
ROWS: list[tuple[str, str, str]] = []  # (measure, value, target result)


def report(measure: str, value: str, target: str = "") -> None:
    """Print one line and keep it for RESULTS.md."""
    ROWS.append((measure, value, target))
    print(f"{measure:<62} {value:<28} {target}")


def verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'} ({text})"


def interleaved(fns, rounds: int = 5) -> list[float]:
    """Best wall time of each function over `rounds` rounds that alternate between them.

    A function that returns a number reports its own time (it did set-up work first)."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            own = fn()
            took = own if isinstance(own, float) else time.perf_counter() - start
            best[i] = min(best[i], took)
    return best


def genotypes_cmd(vcf: Path, table: str, tile: str, out: str) -> list[str]:
    """The `vcf2embed genotypes` command line for one tile."""
    return [
        "vcf2embed",
        "-q",
        "genotypes",
        "--vcf",
        str(vcf),
        "--tiles",
        table,
        "--tile",
        tile,
        "--out",
        out,
    ]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", ENV)
    return subprocess.run(cmd, check=True, **kw)


def sites(vcf: Path) -> list[tuple[int, str, str]]:
    """(pos, ref, first alt) of every record, cached beside the cohort."""
    cache = vcf.with_name(vcf.name + ".sites.tsv")
    if not cache.exists():
        out = run(
            ["bcftools", "query", "-f", "%POS\t%REF\t%ALT\n", str(vcf)],
            capture_output=True,
            text=True,
        ).stdout
        cache.write_text(out)
    rows = [line.split("\t") for line in cache.read_text().splitlines()]
    return [(int(p), r, a.split(",")[0]) for p, r, a in rows]


def variant_list(rows: list[tuple[int, str, str]]) -> VariantList:
    return VariantList(
        chrom=("22",) * len(rows),
        pos=np.array([r[0] for r in rows]),
        ref=tuple(r[1] for r in rows),
        alt=tuple(r[2] for r in rows),
        source="benchmark",
    )


def make_bundle(
    folder: Path,
    variants: VariantList,
    ratio: float,
    weights_from: Path | None = None,
    n_layers: int = 4,
) -> Path:
    """A lab-architecture bundle with random weights (or hard links to identical-shaped ones)."""
    import torch

    from vcf2embed.architectures import LabAutoencoder
    from vcf2embed.models import save_bundle

    width = 2 * len(variants)
    arch = {
        "name": "lab_autoencoder",
        "ni": width,
        "no": width,
        "n_layers": n_layers,
        "size_ratio": ratio,
        "activation": "relu",
    }
    if weights_from is None:
        torch.manual_seed(0)
        save_bundle(folder, LabAutoencoder(width, width, n_layers, ratio), variants, arch)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("model.json", "model.safetensors"):
            target = folder / name
            if target.exists():
                target.unlink()
            os.link(weights_from / name, target)
        (folder / "variants.tsv").write_text(variants.to_tsv())
    return folder


def machine() -> str:
    import cyvcf2
    import torch

    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    bcftools = subprocess.run(
        ["bcftools", "--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    return (
        f"{cpu}; {os.cpu_count()} cores; {mem:.0f} GiB; Python {platform.python_version()}; "
        f"torch {torch.__version__}; cyvcf2 {cyvcf2.__version__}; {bcftools}"
    )


def extraction(
    vcf: Path, bcf: Path, work: Path, n_variants: int, timed: bool = True
) -> tuple[Path, Path, Path]:
    """The 5,000-variant tile (table, model, genotypes file) the other measures use, and,
    when `timed`, its extraction rates: vcf2embed genotypes vs bcftools view -Ou vs cyvcf2."""
    from cyvcf2 import VCF

    from vcf2embed.genotypes import read_tile_genotypes

    all_sites = sites(vcf)
    first = len(all_sites) // 3
    rows = all_sites[first : first + n_variants]
    variants = variant_list(rows)
    region = f"22:{rows[0][0]}-{rows[-1][0]}"
    model = make_bundle(work / "tile5000", variants, 0.1)
    one = make_bundle(work / "tile1", variant_list(rows[:1]), 0.5, n_layers=2)
    one_region = f"22:{rows[0][0]}-{rows[0][0]}"
    table = work / "tiles5000.tsv"
    table.write_text(
        f"tile_id\tchrom\tstart\tend\tmodel\nt5000\t22\t{rows[0][0]}\t{rows[-1][0]}\t{model}\n"
        f"t1\t22\t{rows[0][0]}\t{rows[0][0]}\t{one}\n"
    )
    tile = Tile("t5000", "22", rows[0][0], rows[-1][0], model)
    n_records = int(
        run(
            ["bcftools", "view", "-H", "-G", "-r", region, str(vcf)], capture_output=True
        ).stdout.count(b"\n")
    )
    n_samples = len(VCF(str(vcf)).samples)
    genotypes = n_records * n_samples

    fast = read_tile_genotypes(vcf, tile, variants, reader="text")
    slow = read_tile_genotypes(vcf, tile, variants, reader="cyvcf2")
    same = np.array_equal(fast.alleles, slow.alleles) and np.array_equal(fast.phased, slow.phased)
    report(
        "text reader equals cyvcf2 reader on the 5,000-variant tile",
        str(same),
        verdict(same, "must be equal"),
    )

    out_npz = work / "g.npz"
    for label, path in (("VCF.gz", vcf), ("BCF", bcf)) if timed else ():

        def htslib(p=path):
            run(["bcftools", "view", "-Ou", "-r", region, str(p)], stdout=subprocess.DEVNULL)

        def cli(p=path):
            out_npz.unlink(
                missing_ok=True
            )  # freeing the previous run's file is not this run's work
            start = time.perf_counter()
            run(genotypes_cmd(p, str(table), "t5000", str(out_npz)))
            return time.perf_counter() - start

        def inproc(p=path):
            read_tile_genotypes(p, tile, variants)

        def cyloop(p=path):
            for rec in VCF(str(p), strict_gt=True)(region):
                rec.genotype.array()

        def htslib_one(p=path):
            run(["bcftools", "view", "-Ou", "-r", one_region, str(p)], stdout=subprocess.DEVNULL)

        def cli_one(p=path):
            run(genotypes_cmd(p, str(table), "t1", str(work / "one.npz")))

        t_hts, t_cli, t_in, t_cy, t_hts1, t_cli1 = interleaved(
            (htslib, cli, inproc, cyloop, htslib_one, cli_one)
        )
        rate = lambda t: genotypes / t / 1e6  # noqa: E731
        report(
            f"[{label}] bcftools view -Ou ({n_records} records x {n_samples})",
            f"{rate(t_hts):.1f} M genotypes/s",
        )
        report(
            f"[{label}] vcf2embed genotypes (CLI process, writes .npz)",
            f"{rate(t_cli):.1f} M genotypes/s",
        )
        report(f"[{label}] vcf2embed reader in-process", f"{rate(t_in):.1f} M genotypes/s")
        report(f"[{label}] plain cyvcf2 genotype.array() loop", f"{rate(t_cy):.1f} M genotypes/s")
        need = 1.0 if label == "VCF.gz" else 0.5
        ratio = t_hts / t_cli
        report(
            f"[{label}] vcf2embed genotypes / bcftools view -Ou",
            f"{ratio:.2f}x",
            verdict(ratio >= need, f">= {need}x"),
        )
        report(
            f"[{label}] start-up: the same commands on a one-record tile",
            f"{t_cli1 * 1e3:.0f} ms / {t_hts1 * 1e3:.0f} ms",
        )
        marginal = (t_hts - t_hts1) / (t_cli - t_cli1)
        report(
            f"[{label}] the same ratio with each command's start-up taken off", f"{marginal:.2f}x"
        )
        report(f"[{label}] in-process reader / bcftools view -Ou", f"{t_hts / t_in:.2f}x")
        report(f"[{label}] plain cyvcf2 loop / bcftools view -Ou", f"{t_hts / t_cy:.2f}x")
    run(genotypes_cmd(vcf, str(table), "t5000", str(out_npz)))
    return table, model, out_npz


def hooks(model_dir: Path) -> None:
    """Forward pass with and without the capture hooks."""
    import torch

    from vcf2embed import capture, load_model

    model = load_model(model_dir)
    module = model.module.eval()
    for batch in (256, 2504):
        x = (torch.rand(batch, model.n_inputs) < 0.5).float()
        plain, hooked = [], []

        def timed_plain(x=x, plain=plain) -> None:
            start = time.perf_counter()
            module(x)
            plain.append(time.perf_counter() - start)

        def timed_hooked(x=x, hooked=hooked) -> None:
            with capture(module, ["latent"], latent=model.latent):
                start = time.perf_counter()
                module(x)
                hooked.append(time.perf_counter() - start)

        with torch.inference_mode():
            module(x)
            for k in range(60 if batch <= 256 else 20):  # alternate which goes first
                for fn in (timed_plain, timed_hooked) if k % 2 else (timed_hooked, timed_plain):
                    fn()
        # the median ratio of neighbouring runs: robust to this machine's slow drifts and spikes
        overhead = statistics.median(h / p for h, p in zip(hooked, plain)) - 1
        report(
            f"hook capture overhead, batch {batch} (latent)",
            f"{overhead:+.1%}",
            verdict(overhead <= 0.03, "<= 3%"),
        )


def parquet_share(table: Path, model_dir: Path, npz: Path, work: Path) -> None:
    """Parquet writing's share of an embed job (in-process: load, forward, write)."""
    import vcf2embed.parquet as parquet
    from vcf2embed.embed import embed_tile
    from vcf2embed.genotypes import load_genotypes
    from vcf2embed.models import load_model
    from vcf2embed.tiles import read_tiles

    spent = [0.0]
    original_write, original_close = parquet.EmbeddingWriter.write, parquet.EmbeddingWriter.close

    def timed(fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return wrapper

    parquet.EmbeddingWriter.write, parquet.EmbeddingWriter.close = (
        timed(original_write),
        timed(original_close),
    )
    try:
        shares = []
        for _ in range(3):
            spent[0] = 0.0
            start = time.perf_counter()
            tile = read_tiles(table)[0]
            embed_tile(
                load_genotypes(npz), tile, load_model(model_dir), work / "embed", device="cpu"
            )
            total = time.perf_counter() - start
            shares.append(spent[0] / total)
    finally:
        parquet.EmbeddingWriter.write, parquet.EmbeddingWriter.close = (
            original_write,
            original_close,
        )
    share = min(shares)
    report(
        "Parquet writing / embed job (latent, 2,504 samples)",
        f"{share:.1%}",
        verdict(share <= 0.10, "<= 10%"),
    )


def batch_activation_bytes(model_dir: Path, batch: int) -> int:
    """Bytes of one batch's input and every module's output in a forward pass."""
    import torch

    from vcf2embed.models import load_model

    model = load_model(model_dir)
    sizes = [batch * model.n_inputs * 4]
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numel() * out.element_size()))
        for m in model.module.modules()
        if not list(m.children())
    ]
    with torch.inference_mode():
        model.module(torch.zeros(batch, model.n_inputs))
    for h in hooks:
        h.remove()
    return sum(sizes)


def peak_memory(table: Path, model_dir: Path, npz: Path, work: Path, vcf: Path) -> None:
    """Peak RSS of a genotypes job and an embed job against their budgets."""
    from vcf2embed.genotypes import load_genotypes

    def max_rss_mb(cmd: list[str]) -> float:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *cmd], env=ENV, capture_output=True, text=True, check=True
        )
        return int(proc.stderr.strip().splitlines()[-1]) / 1024

    g = load_genotypes(npz)
    tensor = (g.alleles_vm.nbytes + g.phased_vm.nbytes) / 2**20
    weights = (model_dir / "model.safetensors").stat().st_size / 2**20
    acts = 2 * batch_activation_bytes(model_dir, 256) / 2**20
    rss = max_rss_mb(genotypes_cmd(vcf, str(table), "t5000", str(work / "m.npz")))
    budget = tensor + 300
    report(
        "peak memory, genotypes job / budget (tensor + 300 MB)",
        f"{rss:.0f} / {budget:.0f} MB",
        verdict(rss <= budget, "<= budget"),
    )
    rss = max_rss_mb(
        [
            "vcf2embed",
            "-q",
            "embed",
            "--genotypes",
            str(npz),
            "--tiles",
            str(table),
            "--tile",
            "t5000",
            "--device",
            "cpu",
            "--outdir",
            str(work / "mem"),
        ]
    )
    budget = tensor + weights + acts + 300
    report(
        "peak memory, embed job / budget (tensor + model + 2 batches of every layer's "
        "activations + 300 MB)",
        f"{rss:.0f} / {budget:.0f} MB",
        verdict(rss <= budget, "<= budget"),
    )


def workflow(vcf: Path, work: Path, n_tiles: int, per_tile: int) -> None:
    """The whole workflow on many tiles against the sum of its genotype steps alone."""
    all_sites = sites(vcf)
    folder = work / f"wf{n_tiles}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rows = ["tile_id\tchrom\tstart\tend\tmodel"]
    weights = None
    for i in range(n_tiles):
        part = all_sites[i * per_tile : (i + 1) * per_tile]
        model = make_bundle(folder / "models" / f"t{i:03d}", variant_list(part), 0.05, weights)
        weights = weights or model
        rows.append(f"t{i:03d}\t22\t{part[0][0]}\t{part[-1][0]}\t{model}")
    (folder / "tiles.tsv").write_text("\n".join(rows) + "\n")
    (folder / "cfg.yaml").write_text(
        f"vcf: {vcf}\ntiles: tiles.tsv\ndevice: cpu\noutdir: out\nmin_variant_match: 0.5\n"
    )
    start = time.perf_counter()
    run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--cores",
            "2",
            "--configfile",
            "cfg.yaml",
            "-q",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # as on a workstation without SLURM: the SLURM plugin otherwise waits 10 s at start-up
        # for a controller whenever SLURM's client tools are installed but none runs
        env={**ENV, "SLURM_CONF": os.devnull},
    )
    wall = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(n_tiles):
        run(genotypes_cmd(vcf, str(folder / "tiles.tsv"), f"t{i:03d}", str(folder / "g.npz")))
    genotypes = time.perf_counter() - start
    ratio = wall / genotypes
    report(f"workflow, {n_tiles} tiles x {per_tile} variants, --cores 2", f"{wall:.1f} s wall")
    report("sum of the genotype steps alone (one after another)", f"{genotypes:.1f} s")
    report("workflow wall / genotype steps", f"{ratio:.2f}x", verdict(ratio <= 1.25, "<= 1.25x"))


def scaling(work: Path, quick: bool) -> None:
    """Time per genotype of the reader at three cohort sizes, beside tabix's own."""
    from vcf2embed.genotypes import read_tile_genotypes

    per, floor = {}, {}
    for n in (500, 2504, 10_000):
        vcf, _ = make_cohort(n, 5_000_000 if n != 2504 else 30_000_000, seed=2000 + n)
        rows = sites(vcf)[:5000]
        tile = Tile("s", "22", rows[0][0], rows[-1][0], Path("unused"))
        variants = variant_list(rows)
        region = f"22:{rows[0][0]}-{rows[-1][0]}"

        def reader(v=vcf, tl=tile, vs=variants):
            read_tile_genotypes(v, tl, vs)

        def tabix(v=vcf, r=region):
            run(["tabix", str(v), r], stdout=subprocess.DEVNULL)

        t_reader, t_tabix = interleaved((reader, tabix), rounds=5)
        per[n] = t_reader / (len(rows) * n) * 1e9
        floor[n] = t_tabix / (len(rows) * n) * 1e9
        report(f"reader time per genotype, {n} samples", f"{per[n]:.2f} ns")
        report(f"tabix alone (decompressing the region), {n} samples", f"{floor[n]:.2f} ns")
    spread = max(per.values()) / min(per.values()) - 1
    report(
        "spread of time per genotype across sizes",
        f"{spread:.0%}",
        verdict(spread <= 0.20, "<= 20%"),
    )
    tabix_spread = max(floor.values()) / min(floor.values()) - 1
    report("the same spread of tabix alone", f"{tabix_spread:.0%}")


def write_results() -> None:
    lines = [
        "| measure | value | target |",
        "|---|---|---|",
        *[f"| {m} | {v} | {t} |" for m, v, t in ROWS],
    ]
    write_section("Targets", "run.py", lines, machine())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller workflow run; no RESULTS.md")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["extraction", "hooks", "parquet", "memory", "workflow", "scaling"],
    )
    args = parser.parse_args()
    print(machine())
    vcf, bcf = make_cohort(2504)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        # the other measures run on the tile extraction writes; --skip extraction only leaves
        # its timing out
        table, model, npz = extraction(vcf, bcf, work, 5000, timed="extraction" not in args.skip)
        if "hooks" not in args.skip:
            hooks(model)
        if "parquet" not in args.skip:
            parquet_share(table, model, npz, work)
        if "memory" not in args.skip:
            peak_memory(table, model, npz, work, vcf)
        if "workflow" not in args.skip:
            workflow(vcf, work, 10 if args.quick else 40, 3000)
        if "scaling" not in args.skip:
            scaling(work, args.quick)
    if not args.quick and not args.skip:
        write_results()
    return 0 if all(not t.startswith("FAIL") for _, _, t in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
