"""Atomic file writing: every output appears complete or not at all."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from .errors import OutputError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def temp_beside(final: Path) -> Path:
    """Create an empty hidden temporary file in `final`'s folder, with the usual permissions."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:
        raise OutputError(f"cannot write in {final.parent}: {exc.strerror or exc}") from exc
    os.close(fd)
    os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp makes 0600
    return Path(tmp_name)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it onto `final` only on success."""
    final = Path(final)
    tmp = temp_beside(final)
    try:
        yield tmp
        # a writer that replaced the file (safetensors does) made it 0600: every output is
        # readable by lab-mates as the umask allows
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, final)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise OutputError(
            f"cannot write {final}: {exc.strerror or exc}; free space or choose another outdir"
        ) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_npz(final: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as an uncompressed `.npz` (what `np.load` reads), atomically.

    Unlike `np.savez`, large arrays go to the archive straight from their memory, not through
    chunked copies.
    """
    import numpy as np  # here: the publish step, which only links files, should not load numpy
    from numpy.lib import format as npy

    with atomic_path(final) as tmp, open(tmp, "wb") as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, value in arrays.items():
                array = np.require(value, requirements="C")  # keeps 0-d arrays 0-d
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    npy.write_array_header_1_0(member, npy.header_data_from_array_1_0(array))
                    numeric = array.dtype.kind in "biuf"
                    member.write(
                        memoryview(array.reshape(-1)).cast("B") if numeric else array.tobytes()
                    )


def write_text_atomic(final: str | os.PathLike[str], text: str) -> None:
    """Write text to `final` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_text(text)


def sha256_of(paths: list[Path]) -> str:
    """Return the sha256 of the concatenated bytes of `paths`."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
