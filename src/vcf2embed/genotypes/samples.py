"""Sample IDs: the samples file, the order of output rows, duplicate checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


def check_unique_samples(path: Path, samples: list[str]) -> None:
    """Raise on the first sample ID that the file lists twice."""
    if len(set(samples)) == len(samples):
        return
    seen: set[str] = set()
    for s in samples:
        if s in seen:
            raise InputError(f"{path}: sample ID {s!r} appears more than once in the header")
        seen.add(s)


HEADER_WORDS = {"sample_id", "sample", "samples", "id", "iid", "#iid", "#fid", "fid", "#sample"}


def read_samples_file(path: str | Path) -> list[str]:
    """Read a samples file: one ID per line (first column), or a PLINK keep file (`FID IID`,
    header or not: the IIDs); a header line naming the column is skipped. Duplicates are an
    error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"samples file {path} does not exist")
    rows = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip() and not line.startswith("##"):
                rows.append((lineno, line.split()))
    if rows and rows[0][1][0].lower() in HEADER_WORDS:
        header = [h.lower().lstrip("#") for h in rows[0][1]]
        column = header.index("iid") if "iid" in header else 0
        rows = rows[1:]
    else:
        column = 1 if _keep_file(rows) else 0
    rows = [(n, f) for n, f in rows if not f[0].startswith("#")]
    return _unique_ids(path, [(n, f[min(column, len(f) - 1)]) for n, f in rows])


def _keep_file(rows: list[tuple[int, list[str]]]) -> bool:
    """True for PLINK's `FID IID` lines: two columns whose first repeats and second does not."""
    if len(rows) < 2 or any(len(f) != 2 for _, f in rows):
        return False
    firsts, seconds = [f[0] for _, f in rows], [f[1] for _, f in rows]
    return len(set(firsts)) < len(firsts) and len(set(seconds)) == len(seconds)


def _unique_ids(path: Path, ids: list[tuple[int, str]]) -> list[str]:
    """The IDs, in order; one listed twice is an error naming both lines."""
    seen: dict[str, int] = {}
    for lineno, sid in ids:
        if sid in seen:
            raise InputError(
                f"{path}, line {lineno}: sample {sid!r} is listed twice (first on line {seen[sid]})"
            )
        seen[sid] = lineno
    if not seen:
        raise InputError(f"samples file {path} lists no samples")
    return list(seen)


def sample_order(file_samples: list[str], wanted: list[str] | None, where: Path) -> np.ndarray:
    """Return the file's sample column indices giving the rows in `wanted` order (all if None)."""
    if wanted is None:
        return np.arange(len(file_samples))
    position = {s: i for i, s in enumerate(file_samples)}
    unknown = [s for s in wanted if s not in position]
    if unknown:
        raise InputError(
            f"{len(unknown)} sample(s) of the samples file are not in {where}: "
            f"{', '.join(unknown[:5])}"
        )
    return np.asarray([position[s] for s in wanted], dtype=np.int64)
