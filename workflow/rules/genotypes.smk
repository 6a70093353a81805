rule genotypes:
    """Read one tile's genotypes from the VCF, aligned to its model's variants."""
    input:
        vcf=tile_vcf,
        companions=tile_companions,
        info_table=tile_info_table,
        model=model_files,
        samples=samples_input,
    output:
        kept_or_temp(f"{OUTDIR}/genotypes/{{tile}}.npz"),
    log:
        f"{OUTDIR}/logs/genotypes/{{tile}}.log",
    conda:
        "../../envs/vcf2embed.yaml"
    threads: genotypes_threads
    resources:
        mem_mb=genotypes_mem_mb,
    params:
        lab=lab_metadata_arg(),
        on_error=config["on_tile_error"],
        tiles=config["tiles"],
        row=lambda wildcards: tile_row(wildcards.tile),
        model=lambda wildcards: tile_model(wildcards.tile),
        vcf=lambda wildcards: config["vcf"],  # a pattern: not expanded by Snakemake
        samples=samples_arg,
        field=config["genotype_field"],
        min_match=config["min_variant_match"],
        reader=config["reader"],
        min_info=config["min_info_r2"],
        info_table=lambda wildcards, input: (
            f"--info-table '{input.info_table[0]}'" if input.info_table else ""
        ),
    shell:
        "vcf2embed genotypes --vcf '{params.vcf}' --tiles '{params.tiles}' --tile {wildcards.tile} --model '{params.model}'"
        " {params.samples} --genotype-field {params.field}"
        " --min-variant-match {params.min_match} --reader {params.reader}"
        " --min-info-r2 {params.min_info} {params.info_table} --threads {threads} --out '{output}' --on-tile-error {params.on_error} {params.lab} 2> '{log}'"
        " || {{ tail -n 1 '{log}' >&2; exit 1; }}"
