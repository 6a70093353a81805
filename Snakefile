# vcf2embed: VCF -> per-tile genotype tensors -> tile autoencoders -> per-sample embeddings.
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from vcf2embed.config_check import check_config
from vcf2embed.errors import Vcf2EmbedError

min_version("8.0")


# The bundled example's config.yaml, unless --configfile names the user's own (then only it counts).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# one message for a bad config (with a "did you mean" for an unknown key), then the schema's
# defaults filled in
try:
    check_config(config)
except Vcf2EmbedError as exc:
    raise WorkflowError(str(exc))
validate(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/genotypes.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        # every file the workflow writes, so that deleting any one reruns just what makes it
        expand(f"{OUTDIR}/embeddings/layer=latent/{{tile}}.parquet", tile=TILE_IDS),
        LAYER_FILES,
        expand(
            f"{OUTDIR}/qc/{{tile}}.{{kind}}",
            tile=TILE_IDS,
            kind=["json", "samples.tsv"],
        ),
        f"{OUTDIR}/qc_summary.tsv",
        f"{OUTDIR}/qc_samples.tsv",
        rules.report.output,
