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


def publish_tile(
    batch_dir: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    tile_id: str,
    layer: str | None = None,
    keep: list[str] | None = None,
) -> list[Path]:
    """Link one tile's outputs from a batch folder into `outdir`: its latent and QC files (and
    drop its layer files an earlier config left, with folders they leave empty, but not the
    layers in `keep`, which other jobs publish), or, with `layer`, that one layer's file."""
    batch_dir, outdir = Path(batch_dir), Path(outdir)
    if layer is not None:
        name = Path("embeddings") / f"layer={layer}" / f"{tile_id}.parquet"
        if not (batch_dir / name).exists() and _failed(batch_dir, tile_id):
            return [_empty_layer(outdir / name, tile_id, layer)]
        return [_link(batch_dir, outdir, name)]
    wanted = {
        p.relative_to(batch_dir) for p in batch_dir.glob(f"embeddings/layer=*/{tile_id}.parquet")
    }
    kept = {Path("embeddings") / f"layer={k}" / f"{tile_id}.parquet" for k in keep or []}
    for stale in outdir.glob(f"embeddings/layer=*/{tile_id}.parquet"):
        if stale.relative_to(outdir) not in wanted | kept:
            stale.unlink()
            with contextlib.suppress(OSError):  # only when the layer's folder is now empty
                stale.parent.rmdir()
    names = [
        Path("embeddings") / "layer=latent" / f"{tile_id}.parquet",
        Path("qc") / f"{tile_id}.samples.tsv",
        Path("qc") / f"{tile_id}.json",  # last: it marks the tile complete
    ]
    return [_link(batch_dir, outdir, name) for name in names]


def _failed(batch_dir: Path, tile_id: str) -> bool:
    """True when the batch recorded the tile as failed and skipped."""
    import json

    qc = batch_dir / "qc" / f"{tile_id}.json"
    return qc.exists() and json.loads(qc.read_text()).get("status") == "failed"


def _empty_layer(path: Path, tile_id: str, layer: str) -> Path:
    """A skipped tile's layer file: no rows, its metadata saying so."""
    from .parquet import EmbeddingWriter

    meta = {"tile_id": tile_id, "status": "failed", "layer": layer}
    return EmbeddingWriter(path, tile_id, 0, meta).close()


def _link(batch_dir: Path, outdir: Path, name: Path) -> Path:
    """Hard-link (or copy) `batch_dir/name` to `outdir/name`, atomically."""
    src, dst = batch_dir / name, outdir / name
    if not src.exists():
        raise OutputError(f"{src} is missing: the embed job did not write it; rerun the embed step")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:  # another file system: copy instead
            import shutil

            shutil.copyfile(src, tmp)
    os.utime(dst)
    return dst
