"""bcftools, bgzip and tabix for the tests: the installed commands when on PATH, else the same
htslib and bcftools code through pysam, so the oracle exists on a bare machine and stays
independent of vcf2embed's readers."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def have(tool: str) -> bool:
    """True when the command `tool` is on PATH."""
    return shutil.which(tool) is not None


def bcftools(*args: str | Path) -> str:
    """bcftools' stdout for `args`; raise CalledProcessError when it fails."""
    args = tuple(map(str, args))
    if have("bcftools"):
        return subprocess.run(
            ["bcftools", *args], check=True, capture_output=True, text=True
        ).stdout
    import pysam.bcftools
    import pysam.utils

    run = getattr(pysam.bcftools, args[0])
    # pysam's stdout capture loses output files (`-o`) and what `query -l` prints
    try:
        if "-o" in args:
            run(*args[1:], catch_stdout=False)
            return ""
        if "-l" not in args:
            return run(*args[1:])
        with tempfile.TemporaryDirectory() as tmp:
            run(*args[1:], save_stdout=f"{tmp}/out")
            return Path(f"{tmp}/out").read_text()
    except pysam.utils.SamtoolsError as exc:
        raise subprocess.CalledProcessError(1, ["bcftools", *args], stderr=str(exc)) from None


def bgzip(plain: Path) -> Path:
    """Compress `plain` to `plain.gz` with BGZF, replacing it; return the new path."""
    out = plain.with_name(plain.name + ".gz")
    if have("bgzip"):
        subprocess.run(["bgzip", "-f", str(plain)], check=True)
        return out
    import pysam

    pysam.tabix_compress(str(plain), str(out), force=True)
    plain.unlink()
    return out


def bgzip_bytes(data: bytes, out: Path) -> None:
    """Write `data` to `out` compressed with BGZF."""
    plain = out.with_name(out.name + ".plain")
    plain.write_bytes(data)
    bgzip(plain).replace(out)


def tabix(vcf: Path, check: bool = True) -> bool:
    """Index a bgzipped VCF (`.tbi`); return False if it cannot be and `check` is off."""
    if have("tabix"):
        done = subprocess.run(["tabix", "-f", "-p", "vcf", str(vcf)], capture_output=True)
        if check and done.returncode:
            raise subprocess.CalledProcessError(done.returncode, "tabix", stderr=done.stderr)
        return done.returncode == 0
    import pysam

    try:
        pysam.tabix_index(str(vcf), preset="vcf", force=True, keep_original=True)
    except (OSError, ValueError):
        if check:
            raise
        return False
    return True


def vcf_to_bcf(vcf: Path, bcf: Path) -> Path:
    """Write `vcf` as an indexed (`.csi`) BCF at `bcf`."""
    bcftools("view", "-Ob", "-o", bcf, vcf)
    bcftools("index", "-f", "-c", bcf)
    return bcf
