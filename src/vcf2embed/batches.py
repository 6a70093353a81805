"""Which embed job runs which tiles: membership from the tile ID, not the table's row order.

Each tile goes to bucket `jump_hash(sha1(tile_id), B)`, with B the number of jobs that
`tiles_per_embed_job` asks for, rounded up to a power of two. Inserting, removing or reordering
tiles then changes only the buckets of the tiles that changed (until the tile count crosses a
power of two, when the tiles are dealt anew once). Buckets hold about `tiles_per_embed_job`
tiles each, some more, some fewer.
"""

from __future__ import annotations

import hashlib


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash of a 64-bit key into `buckets`."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def bucket_count(n_tiles: int, per_job: int) -> int:
    """Jobs for `n_tiles`: ceil(n / per_job), rounded up to a power of two."""
    needed = max(1, -(-n_tiles // max(1, per_job)))
    return 1 << (needed - 1).bit_length()


def embed_batches(tile_ids: list[str], per_job: int) -> dict[str, list[str]]:
    """Batch name -> its tiles (in the table's order), for the tiles of a run."""
    buckets = bucket_count(len(tile_ids), per_job)
    batches: dict[str, list[str]] = {}
    for tile_id in tile_ids:
        key = int.from_bytes(hashlib.sha1(tile_id.encode()).digest()[:8], "little")
        batches.setdefault(f"b{jump_hash(key, buckets):05d}", []).append(tile_id)
    return dict(sorted(batches.items()))
