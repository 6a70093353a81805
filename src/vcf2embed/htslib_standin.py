"""Stand-ins for the `tabix` and `bcftools` commands on machines without them, run through the
htslib that pysam bundles: `python -m vcf2embed.htslib_standin TOOL ARGS...`.

It sits outside `genotypes.sources` so that starting it does not import every reader.

Only what the readers call is provided: `tabix -H FILE`, `tabix -l FILE`, `tabix FILE REGION`,
and any `bcftools` subcommand (pysam runs bcftools' own code). Output goes to stdout as the real
tools write it; an error is one line on stderr and exit code 1.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import zlib


def _tabix(args: list[str]) -> None:
    """`tabix -H FILE`, `tabix -l FILE` or `tabix FILE REGION`, written to stdout."""
    import pysam

    out = sys.stdout.buffer
    if args[0] == "-H":
        out.write(b"".join(_header_lines(args[1])))
        return
    if args[0] == "-l":
        with pysam.TabixFile(args[1]) as tbx:
            out.write("".join(line + "\n" for line in tbx.contigs).encode())
        return
    with pysam.TabixFile(args[0]) as tbx:
        for line in tbx.fetch(region=args[1]):
            out.write(line.encode())
            out.write(b"\n")


def _header_lines(path: str) -> list[bytes]:
    """The `#` lines at the start of a bgzipped file; raise if its data ends among them."""
    lines = []
    with gzip.open(path) as stream:
        try:
            for line in stream:
                if not line.startswith(b"#"):
                    break
                lines.append(line)
        except (EOFError, zlib.error) as exc:
            raise OSError(f"truncated or damaged bgzf data in the header: {exc}") from None
    return lines


def _bcftools(args: list[str]) -> None:
    """A bcftools subcommand, run by pysam, its output written to stdout."""
    if "-Ou" not in args:
        _bcftools_direct(args)
        return
    # pysam's bcftools writes uncompressed BCF inside level-0 BGZF blocks: unwrap them
    child = subprocess.Popen(
        [sys.executable, "-m", __spec__.name, "bcftools-direct", *args], stdout=subprocess.PIPE
    )
    with gzip.GzipFile(fileobj=child.stdout) as stream:
        shutil.copyfileobj(stream, sys.stdout.buffer, 1 << 20)
    if child.wait():
        raise OSError(f"bcftools {args[0]} failed (exit code {child.returncode})")


def _bcftools_direct(args: list[str]) -> None:
    """A bcftools subcommand, run by pysam with its stdout this process's."""
    import pysam.bcftools

    getattr(pysam.bcftools, args[0])(*args[1:], catch_stdout=False)


TOOLS = {"tabix": _tabix, "bcftools": _bcftools, "bcftools-direct": _bcftools_direct}


def main(argv: list[str]) -> int:
    """Run `argv` (tool, then its arguments); 0 on success, 1 with a message on failure."""
    import pysam.utils

    tool, args = argv[0], argv[1:]
    try:
        TOOLS[tool](args)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early
        return 0
    except (OSError, ValueError, pysam.utils.SamtoolsError) as exc:
        print(f"[E::pysam] {tool}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
