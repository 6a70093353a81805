"""The genotype layer: sources -> records -> aligner -> store.

* `sources/`: one module per file format, each a `Source` that reads a region and hands its
  records (chrom, pos, alleles, calls in file sample order) to a `RecordSink`; `sources/__init__`
  holds the table that picks one by file name and header.
* `records`: the record model and the one table of allele codes.
* `aligner`: matches records to a model's variants (exact, swapped, multi-allelic, by position)
  and counts every outcome in the tile's `AlignmentQC` (`qc`); it knows no format.
* `tile`: the aligned genotypes (`TileGenotypes`); `store`: their compact intermediate file.
* `read`: one tile end to end; `paths` and `samples`: finding files and ordering samples.

Adding a format is one module under `sources/`, one entry in `sources.SOURCES`, one test module.
"""

from .aligner import classify, is_strand_ambiguous
from .paths import find_index, pick_contig, resolve_vcf_path
from .qc import AlignmentQC
from .read import read_tile_genotypes
from .records import GENOTYPE_FIELDS
from .samples import read_samples_file, sample_order
from .store import load_genotypes, save_genotypes
from .tile import TileGenotypes

__all__ = [
    "GENOTYPE_FIELDS",
    "AlignmentQC",
    "TileGenotypes",
    "classify",
    "find_index",
    "is_strand_ambiguous",
    "load_genotypes",
    "pick_contig",
    "read_samples_file",
    "read_tile_genotypes",
    "resolve_vcf_path",
    "sample_order",
    "save_genotypes",
]
