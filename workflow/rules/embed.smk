rule embed:
    """Run one tile's model, capture latent and configured layers, write Parquet and QC."""
    input:
        genotypes=f"{OUTDIR}/genotypes/{{tile}}.npz",
        tiles=config["tiles"],
        model=model_files,
    output:
        latent=f"{OUTDIR}/embeddings/layer=latent/{{tile}}.parquet",
        samples=f"{OUTDIR}/qc/{{tile}}.samples.tsv",
        qc=f"{OUTDIR}/qc/{{tile}}.json",
    log:
        f"{OUTDIR}/logs/embed/{{tile}}.log",
    conda:
        "../../envs/vcf2embed.yaml"
    resources:
        gpu=1,
        mem_mb=embed_mem_mb,
    params:
        model=lambda wildcards: tile_model(wildcards.tile),
        outdir=lambda wildcards, output: Path(output.qc).parent.parent,
        layers=layers_arg(),
        device=config.get("device", "auto"),
        dtype=config.get("dtype", "float32"),
        batch_size=config.get("batch_size", 256),
        unphased=flag("allow_unphased", "--allow-unphased"),
        user_code=flag("allow_user_code", "--allow-user-code"),
        gpu_slots=gpu_slots_arg,
        config_json=json.dumps(config, sort_keys=True),
    shell:
        "vcf2embed embed --genotypes '{input.genotypes}' --tiles '{input.tiles}'"
        " --tile {wildcards.tile} --model '{params.model}' --outdir '{params.outdir}' {params.layers}"
        " --device {params.device} --dtype {params.dtype} --batch-size {params.batch_size}"
        " {params.unphased} {params.user_code} {params.gpu_slots} --config-json {params.config_json:q} 2> '{log}'"
