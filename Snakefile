# vcf2embed: VCF -> per-tile genotype tensors -> tile autoencoders -> per-sample embeddings.
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("8.0")


# The bundled example's config.yaml, unless --configfile names the user's own (then only it counts).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


validate(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/genotypes.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        expand(f"{OUTDIR}/embeddings/layer=latent/{{tile}}.parquet", tile=TILE_IDS),
        f"{OUTDIR}/qc_summary.tsv",
        f"{OUTDIR}/report/latent_pca.png",
