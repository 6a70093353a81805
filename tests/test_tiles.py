"""Tile table parsing and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcf2embed.errors import InputError
from vcf2embed.tiles import read_tiles, unmodelled_regions

HEADER = "tile_id\tchrom\tstart\tend\tmodel\n"


def table(tmp_path: Path, rows: str) -> Path:
    (tmp_path / "m").mkdir(exist_ok=True)
    path = tmp_path / "tiles.tsv"
    path.write_text(HEADER + rows)
    return path


def test_reads_and_resolves_models(tmp_path: Path) -> None:
    tiles = read_tiles(table(tmp_path, "a\t22\t10\t20\tm\nb\tchr22\t15\t30\tm\n"))
    assert [t.tile_id for t in tiles] == ["a", "b"]
    assert tiles[0].model == tmp_path / "m" and tiles[1].region == "chr22:15-30"


@pytest.mark.parametrize(
    "rows, message",
    [
        ("a\t22\t10\t20\tm\na\t22\t30\t40\tm\n", "line 3: duplicate tile_id 'a'"),
        ("a\t22\t20\t10\tm\n", "end must not be before start"),
        ("a\t22\tx\t10\tm\n", "must be integers"),
        ("a\t22\t1\t10\tnope\n", "model .*nope of tile a does not exist"),
        ("a b\t22\t1\t10\tm\n", "hold only letters"),
        (".hidden\t22\t1\t10\tm\n", "start with a letter or digit"),
        ("_meta\t22\t1\t10\tm\n", "hidden from Arrow"),
        ("a/b\t22\t1\t10\tm\n", "hold only letters"),
        ("", "lists no tiles"),
    ],
)
def test_errors(tmp_path: Path, rows: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_tiles(table(tmp_path, rows))


def test_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("tile_id\tchrom\tstart\tend\n")
    with pytest.raises(InputError, match="missing column"):
        read_tiles(path)


def test_lab_regions_file_with_metadata(tmp_path: Path, example: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "regions_file.txt").write_text(
        "22:17000001-17220000\tVMV1\n22:17300001-17520000\tVMV2\n"
    )
    (lab / "metadata.tsv").write_text(
        f"VMV1\t{example / 'models' / 'tile01'}\ttile01\nVMV2\t{example / 'models' / 'tile01'}\ttile01.pth\n"
    )
    tiles = read_tiles(lab / "regions_file.txt")
    assert [(t.tile_id, t.chrom, t.start, t.end, t.label) for t in tiles] == [
        ("22_17000001-17220000", "22", 17000001, 17220000, "VMV1"),
        ("22_17300001-17520000", "22", 17300001, 17520000, "VMV2"),
    ]
    assert tiles[0].model == example / "models" / "tile01" / "tile01.pth" == tiles[1].model


def test_lab_regions_file_errors(tmp_path: Path) -> None:
    (tmp_path / "regions_file.txt").write_text("22:1-100\tA\n")
    with pytest.raises(InputError, match="metadata.tsv .* is in none of: .*best_model_weights"):
        read_tiles(tmp_path / "regions_file.txt")
    (tmp_path / "metadata.tsv").write_text("B\tm\tmodel\n")
    # a region without a model line is left out and listed, not an error
    with pytest.raises(InputError, match="lists no tiles"):
        read_tiles(tmp_path / "regions_file.txt")
    assert [t.label for t in unmodelled_regions(tmp_path / "regions_file.txt")] == ["A"]
    (tmp_path / "regions_file.txt").write_text("22:1-100\tB\n22-5\tB\n")
    with pytest.raises(InputError, match="line 2: expected chrom:start-end"):
        read_tiles(tmp_path / "regions_file.txt", check_models=False)
