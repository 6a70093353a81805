"""CUDA versus CPU: the same tiles, the same captured layers; prints differences and samples/s.

    python benchmarks/gpu_check.py [--rows 200000] [--record]

Without a CUDA device it says so and exits 0. With `--record` the figures replace the
"CUDA check" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vcf2embed.embed import embed_tile, model_input  # noqa: E402
from vcf2embed.forward import compute_activations  # noqa: E402
from vcf2embed.genotypes import read_tile_genotypes  # noqa: E402
from vcf2embed.models import load_model  # noqa: E402
from vcf2embed.tiles import read_tiles  # noqa: E402

EXAMPLE = ROOT / "resources" / "example"
TOLERANCE = 1e-4  # documented CUDA-vs-CPU float32 tolerance, relative to the layer's scale


def timed(fn, repeats: int = 3) -> float:
    """Best wall time of `repeats` calls, synchronising CUDA."""
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    """Run the comparison and print (and optionally record) the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the throughput run")
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--record", action="store_true", help="write the figures to RESULTS.md")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"no CUDA device (torch {torch.__version__}): CUDA-versus-CPU check skipped")
        return 0
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    lines = [
        f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; CUDA {torch.version.cuda}; "
        f"{platform.processor() or platform.machine()}",
        "",
        "| tile | layers | max abs diff fp32 | rel | bf16 max abs diff | reconstruction concordance diff | CPU samples/s | CUDA samples/s | speed-up | pass |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ok = True
    for tile in read_tiles(EXAMPLE / "tiles.tsv"):
        model_cpu = load_model(tile.model)
        genotypes = read_tile_genotypes(EXAMPLE / "cohort.vcf.gz", tile, model_cpu.variants)
        x = model_input(model_cpu, genotypes)
        selectors = ["latent", "type:Linear"]
        ref = compute_activations(model_cpu, x, selectors, cpu, 256)
        got = compute_activations(load_model(tile.model), x, selectors, cuda, 256)
        bf16 = compute_activations(load_model(tile.model), x, selectors, cuda, 256, torch.bfloat16)
        diff = max(float(np.abs(got[k] - ref[k]).max()) for k in ref)
        scale = max(float(np.abs(ref[k]).max()) for k in ref) or 1.0
        diff_bf16 = max(float(np.abs(bf16[k] - ref[k]).max()) for k in ref)
        big = np.tile(x, (max(1, args.rows // len(x)), 1))
        m_cpu, m_cuda = load_model(tile.model), load_model(tile.model)

        def run_cpu(m=m_cpu, rows=big[:20_000], sel=selectors):
            return compute_activations(m, rows, sel, cpu, args.batch_size)

        def run_cuda(m=m_cuda, rows=big, sel=selectors):
            return compute_activations(m, rows, sel, cuda, args.batch_size)

        t_cpu, t_cuda = timed(run_cpu), timed(run_cuda)  # best of the same repeats
        cpu_rate, cuda_rate = 20_000 / t_cpu, len(big) / t_cuda
        # the reconstruction QC runs on the model's device: the same calls must be counted
        qc = {}
        with tempfile.TemporaryDirectory() as tmp:
            for device in ("cpu", "cuda"):
                result = embed_tile(
                    genotypes, tile, load_model(tile.model), Path(tmp) / device, device=device
                )
                qc[device] = result.qc.get("reconstruction")
        qc_diff = (
            abs(qc["cpu"]["concordance"] - qc["cuda"]["concordance"]) if qc["cpu"] else float("nan")
        )
        passed = diff / scale <= TOLERANCE and (
            qc["cpu"] is None
            or (qc_diff <= 1e-3 and qc["cpu"]["observed_calls"] == qc["cuda"]["observed_calls"])
        )
        ok &= passed
        lines.append(
            f"| {tile.tile_id} | {len(ref)} | {diff:.2e} | {diff / scale:.2e} | {diff_bf16:.2e} | {qc_diff:.1e} | "
            f"{cpu_rate:,.0f} | {cuda_rate:,.0f} | {cuda_rate / cpu_rate:.1f}x | {'pass' if passed else 'FAIL'} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.record:
        results = ROOT / "benchmarks" / "RESULTS.md"
        body = results.read_text() if results.exists() else "# Benchmark results\n"
        section = f"## CUDA check (benchmarks/gpu_check.py)\n\n{text}\n"
        pattern = re.compile(r"## CUDA check.*?(?=\n## |\Z)", re.S)
        body = (
            pattern.sub(section, body) if pattern.search(body) else body.rstrip() + "\n\n" + section
        )
        results.write_text(body)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
