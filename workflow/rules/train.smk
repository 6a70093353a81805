rule train:
    """Train a model for a tile that the tile table lists without one."""
    input:
        vcf=tile_vcf,
        samples=samples_input,
    output:
        multiext(
            f"{OUTDIR}/models/{{tile}}/",
            "model.json",
            "model.safetensors",
            "variants.tsv",
        ),
    log:
        f"{OUTDIR}/logs/train/{{tile}}.log",
    conda:
        "../../envs/vcf2embed.yaml"
    resources:
        mem_mb=4000,
    params:
        tiles=config["tiles"],
        row=lambda wildcards: tile_row(wildcards.tile),
        vcf=lambda wildcards: config["vcf"],  # a pattern: not expanded by Snakemake
        out=lambda wildcards, output: Path(output[0]).parent,
        samples=samples_arg,
        settings=train_args(),
    shell:
        "vcf2embed train --vcf '{params.vcf}' --tiles '{params.tiles}' --tile {wildcards.tile}"
        " {params.samples} --out '{params.out}' {params.settings} 2> '{log}'"
        " || {{ tail -n 1 '{log}' >&2; exit 1; }}"
