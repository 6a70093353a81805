"""What each workflow job asks the scheduler for, from the data: samples x variants.

The figures follow what each step holds at once (see `benchmarks/scale.py` for the measured
peaks): the genotypes step, the aligned calls (2 bytes of allele codes and 1 of phase per call,
4 more per call for a dosage field) and one chunk of records; the embed step, the same arrays read
back from the compact store, the model and a few batches; the report, one tile's latents at a
time. Each retry (`attempt`) asks for more.
"""

from __future__ import annotations

BYTES_PER_CALL = 3.0  # allele codes (2) and the phased flag (1)
DOSAGE_BYTES_PER_CALL = 4.0  # float32
MARGIN = 1.25
GENOTYPES_BASE_MB = 350  # Python, numpy and the reader's chunk buffers
EMBED_BASE_MB = 900  # torch, the model and a few batches of activations
REPORT_BASE_MB = 600  # matplotlib and the PCA's fitted subsample


def _call_mb(samples: int, variants: int, dosage: bool) -> float:
    per_call = BYTES_PER_CALL + (DOSAGE_BYTES_PER_CALL if dosage else 0.0)
    return samples * variants * per_call * MARGIN / 1e6


def genotypes_mem_mb(samples: int, variants: int, dosage: bool, attempt: int = 1) -> int:
    """Memory for one tile's genotypes job."""
    return int((GENOTYPES_BASE_MB + _call_mb(samples, variants, dosage)) * attempt)


def embed_mem_mb(samples: int, variants: int, dosage: bool, attempt: int = 1) -> int:
    """Memory for one tile of an embed job (its tiles run one after another)."""
    return int((EMBED_BASE_MB + 1.5 * _call_mb(samples, variants, dosage)) * attempt)


def report_mem_mb(samples: int, widest_latent: int, attempt: int = 1) -> int:
    """Memory for the report: one tile's latents and the scores of every sample."""
    return int((REPORT_BASE_MB + samples * (widest_latent * 4 * 2 + 10 * 8) / 1e6) * attempt)


def genotypes_threads(samples: int, variants: int) -> int:
    """Threads for a genotypes job: on large tiles, htslib decompresses beside the VCF decoder,
    and biobank-format records are converted beside their library's reads."""
    return 2 if samples * variants >= 5_000_000 else 1
