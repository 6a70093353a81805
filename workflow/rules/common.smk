# Shared helpers: the tile table, the VCF of each tile and each tile's model files.
import importlib.util
import json

from snakemake.exceptions import WorkflowError

from vcf2embed import job_resources
from vcf2embed.batches import embed_batches
from vcf2embed.defaults import recorded_config
from vcf2embed.errors import Vcf2EmbedError
from vcf2embed.genotypes import resolve_vcf_path
from vcf2embed.genotypes.sources import companion_files
from vcf2embed.tiles import read_tiles, unmodelled_regions
from vcf2embed.variants import model_files as model_file_list

OUTDIR = config["outdir"].rstrip("/")

try:
    TILES = {
        tile.tile_id: tile
        for tile in read_tiles(config["tiles"], lab_metadata=config["lab_metadata"])
    }
    NO_MODEL = unmodelled_regions(config["tiles"], config["lab_metadata"])
except Vcf2EmbedError as exc:
    raise WorkflowError(f"config tiles: {exc}")
if NO_MODEL:
    logger.warning(
        f"{len(NO_MODEL)} lab region(s) have no model and are not embedded (listed in "
        f"qc_summary.tsv as no_model): {', '.join(t.label for t in NO_MODEL[:5])}"
    )


def lab_metadata_arg():
    """The --lab-metadata option, when `lab_metadata` is set."""
    return (
        f"--lab-metadata '{config['lab_metadata']}'" if config["lab_metadata"] else ""
    )


TILE_IDS = list(TILES)

# One embed job runs several tiles, so torch is imported once per batch rather than per tile;
# a tile's batch follows from its ID, so edits of the tile table rerun only the tiles edited.
BATCHES = embed_batches(TILE_IDS, int(config["tiles_per_embed_job"]))
TILE_BATCH = {tile: batch for batch, tiles in BATCHES.items() for tile in tiles}


def plan_layers():
    """Each tile's captured layers besides latent, from its model: declared outputs, and a
    selector that matches nothing stops the run here, before any job."""
    if not config["layers"] or workflow.remote_exec:
        return (
            {}
        )  # a cluster job step runs named jobs: the plan was made on the submit host
    from vcf2embed.plan import tile_layers

    layers = {}
    for tile in TILES.values():
        if tile.model is None:
            continue  # trained by the workflow: its layers are known once it exists
        try:
            layers[tile.tile_id] = tile_layers(
                tile.model, tile.chrom, config["layers"], config["allow_user_code"]
            )
        except Vcf2EmbedError as exc:
            raise WorkflowError(f"config layers: tile {tile.tile_id}: {exc}")
    return layers


TILE_LAYERS = plan_layers()


def plan_report():
    """The report's settings against the sample table and the run's samples, before any job."""
    from vcf2embed.config_check import check_report_settings
    from vcf2embed.genotypes import read_samples_file

    if not (config["color_by"] or config["report_samples"]) or workflow.remote_exec:
        return
    try:
        samples = (
            read_samples_file(config["samples"])
            if config["samples"]
            else run_samples(TILE_IDS[0])
        )
        check_report_settings(config, samples)
    except Vcf2EmbedError as exc:
        raise WorkflowError(str(exc))


def run_samples(tile_id):
    """The samples of a tile's genotype file (its header)."""
    from vcf2embed.genotypes.sources import choose_source

    path = Path(vcf_of(tile_id))
    return choose_source(
        path, config["genotype_field"], config["reader"]
    ).header.samples


LAYER_FILES = [
    f"{OUTDIR}/embeddings/layer={layer}/{tile}.parquet"
    for tile, layers in TILE_LAYERS.items()
    for layer in layers
]


wildcard_constraints:
    tile=r"[A-Za-z0-9._-]+",
    batch=r"b[0-9]+",


def vcf_of(tile_id):
    """The VCF holding a tile's records."""
    try:
        return str(resolve_vcf_path(config["vcf"], TILES[tile_id]))
    except Vcf2EmbedError as exc:
        raise WorkflowError(f"config vcf: {exc}")


def tile_vcf(wildcards):
    """The VCF holding a tile's records, as a rule input."""
    return [vcf_of(wildcards.tile)]


def tile_companions(wildcards):
    """Files read beside a tile's genotype file (index, .pvar/.psam, .bim/.fam, ...)."""
    return [str(p) for p in companion_files(Path(vcf_of(wildcards.tile)))]


def tile_info_table(wildcards):
    """The imputation-score table of a tile's chromosome, when one is configured."""
    table = config["info_table"]
    if not table:
        return []
    chrom = TILES[wildcards.tile].chrom
    return [
        table.replace(
            "{chrom}", chrom[3:] if chrom.lower().startswith("chr") else chrom
        )
    ]


def tile_row(tile_id):
    """A tile's own row of the table: the params that rerun just this tile when it is edited."""
    tile = TILES[tile_id]
    return f"{tile.chrom}:{tile.start}-{tile.end} {tile.model or ''}"


def batch_tile_rows(wildcards):
    """The rows of an embed batch's tiles."""
    return " ".join(f"{t}={tile_row(t)}" for t in BATCHES[wildcards.batch])


def tile_model(tile_id):
    """A tile's model: from the tile table, or trained by the workflow when the table has none."""
    return TILES[tile_id].model or Path(f"{OUTDIR}/models/{tile_id}")


def model_files(wildcards):
    """The files a tile's model consists of, so that changing them reruns the tile."""
    return [str(f) for f in model_file_list(tile_model(wildcards.tile))]


def vcf_sample_count(tile_id):
    """Samples in the genotype file of a tile (from its header), for memory requests."""
    from vcf2embed.genotypes.sources import choose_source

    path = vcf_of(tile_id)
    if path not in _SAMPLE_COUNTS:
        try:
            source = choose_source(
                Path(path), config["genotype_field"], config["reader"]
            )
        except Vcf2EmbedError as exc:
            raise WorkflowError(f"config vcf: {exc}")
        _SAMPLE_COUNTS[path] = len(source.header.samples)
    return _SAMPLE_COUNTS[path]


_SAMPLE_COUNTS = {}
_VARIANT_COUNTS = {}


def model_variant_count(tile_id):
    """Variants in a tile's model (read once per model path)."""
    from vcf2embed.variants import load_variants

    tile = TILES[tile_id]
    if tile.model is None:
        return 2000  # not trained yet: a generous guess for the memory request
    if tile.model not in _VARIANT_COUNTS:
        _VARIANT_COUNTS[tile.model] = len(load_variants(tile.model, chrom=tile.chrom))
    return _VARIANT_COUNTS[tile.model]


def train_args():
    """Options of `vcf2embed train` from the config's `train:` section."""
    settings = config["train"]
    return " ".join(
        f"--{key.replace('_', '-')} {value}" for key, value in settings.items()
    )


def tile_size(tile_id):
    """(samples, variants, dosage field?) of a tile, for its jobs' resources."""
    dosage = config["genotype_field"] != "GT"
    return vcf_sample_count(tile_id), model_variant_count(tile_id), dosage


def genotypes_mem_mb(wildcards, attempt):
    """Memory for a genotypes job, from its samples x variants, grown per retry."""
    return job_resources.genotypes_mem_mb(*tile_size(wildcards.tile), attempt)


def genotypes_threads(wildcards):
    """Threads for a genotypes job, from its samples x variants."""
    samples, variants, _ = tile_size(wildcards.tile)
    return job_resources.genotypes_threads(samples, variants)


def embed_memory(tile_id, attempt):
    """Memory for one tile of an embed job, from its samples x variants, grown per retry."""
    return job_resources.embed_mem_mb(*tile_size(tile_id), attempt)


def kept_or_temp(path):
    """The genotype intermediate: kept (so new layers do not re-read genotypes) or temporary."""
    return path if config["keep_genotypes"] else temp(path)


def report_mem_mb(wildcards, attempt):
    """Memory for the report, from the cohort's samples (one tile's latents at a time)."""
    return job_resources.report_mem_mb(vcf_sample_count(TILE_IDS[0]), 256, attempt)


def samples_input(wildcards):
    """The samples file, when one is configured."""
    return [config["samples"]] if config.get("samples") else []


def samples_arg(wildcards, input):
    """The --samples option for the genotypes command."""
    return f"--samples '{input.samples[0]}'" if input.samples else ""


def layers_arg():
    """The --layers option for the embed command."""
    layers = config["layers"]
    return "--layers " + " ".join(f"'{layer}'" for layer in layers) if layers else ""


def batch_genotypes(wildcards):
    """Genotype files of the tiles of an embed batch."""
    return [f"{OUTDIR}/genotypes/{tile}.npz" for tile in BATCHES[wildcards.batch]]


def batch_models(wildcards):
    """Model files of the tiles of an embed batch."""
    return [
        f
        for tile in BATCHES[wildcards.batch]
        for f in model_file_list(tile_model(tile))
    ]


def batch_tile_args(wildcards, input):
    """--tile/--genotypes/--model options for every tile of an embed batch."""
    return " ".join(
        f"--tile {tile} --genotypes '{genotypes}' --model '{tile_model(tile)}'"
        for tile, genotypes in zip(BATCHES[wildcards.batch], input.genotypes)
    )


def batch_mem_mb(wildcards, attempt):
    """Memory for an embed batch: its largest tile (tiles run one after another)."""
    return max(embed_memory(tile, attempt) for tile in BATCHES[wildcards.batch])


def gpu_slots_arg(wildcards, output):
    """The --gpu-slots options, when gpu_slots is configured."""
    slots = config.get("gpu_slots")
    if not slots:
        return ""
    lock_dir = Path(output[0]).parent.parent / ".gpu_slots"
    return f"--gpu-slots {','.join(str(s) for s in slots)} --gpu-lock-dir '{lock_dir}'"


def metadata_input(wildcards):
    """The sample metadata table, when one is configured."""
    return [config["sample_metadata"]] if config.get("sample_metadata") else []


def report_options():
    """Options of `vcf2embed report` from the config (a plain value: a change reruns it)."""
    options = []
    if config.get("sample_metadata") and config.get("color_by"):
        options.append(
            f"--sample-metadata '{config['sample_metadata']}' --color-by '{config['color_by']}'"
        )
    if config.get("report_samples"):
        options.append(
            "--samples " + " ".join(f"'{s}'" for s in config["report_samples"])
        )
    if config.get("report_tile"):
        options.append(f"--tile '{config['report_tile']}'")
    if not HAS_UMAP:
        options.append("--no-umap")
    return " ".join(options)


HAS_UMAP = importlib.util.find_spec("umap") is not None


def report_umap_output():
    """The UMAP figure, declared only when umap-learn is installed."""
    if not HAS_UMAP:
        return []
    return report(
        f"{OUTDIR}/report/latent_umap.png",
        caption="../report/latent_umap.rst",
        category="Embeddings",
    )


def flag(name, option):
    """A command-line flag set from a boolean config value."""
    return option if config[name] else ""


plan_report()


def plan_device():
    """`device: cuda`/`mps` checked before any job when jobs run on this machine (on a cluster
    the GPU is on the compute node, where the embed job checks it)."""
    if (
        config["device"] in ("auto", "cpu")
        or not workflow.local_exec
        or workflow.remote_exec
    ):
        return
    from vcf2embed.devices import resolve_device

    try:
        resolve_device(config["device"])
    except Vcf2EmbedError as exc:
        raise WorkflowError(f"config device: {exc}")


plan_device()
