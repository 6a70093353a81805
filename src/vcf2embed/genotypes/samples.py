"""Sample IDs: the samples file, the order of output rows, duplicate checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


def check_unique_samples(path: Path, samples: list[str]) -> None:
    """Raise on the first sample ID that the file lists twice."""
    seen: set[str] = set()
    for s in samples:
        if s in seen:
            raise InputError(f"{path}: sample ID {s!r} appears more than once in the header")
        seen.add(s)


def read_samples_file(path: str | Path) -> list[str]:
    """Read a samples file: one ID per line (first column); duplicates are an error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"samples file {path} does not exist")
    ids: list[str] = []
    seen: dict[str, int] = {}
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            sid = line.split()[0]
            if sid in seen:
                raise InputError(
                    f"{path}, line {lineno}: sample {sid!r} is listed twice (first on line {seen[sid]})"
                )
            seen[sid] = lineno
            ids.append(sid)
    if not ids:
        raise InputError(f"samples file {path} lists no samples")
    return ids


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
