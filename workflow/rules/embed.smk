rule embed:
    """Run a batch of tiles' models in one process: capture latent and configured layers."""
    input:
        genotypes=batch_genotypes,
        model=batch_models,
    output:
        directory(f"{OUTDIR}/.embed_batches/{{batch}}"),
    log:
        f"{OUTDIR}/logs/embed/{{batch}}.log",
    conda:
        "../../envs/vcf2embed.yaml"
    resources:
        gpu=1,
        mem_mb=batch_mem_mb,
    params:
        lab=lab_metadata_arg(),
        on_error=config["on_tile_error"],
        tile_args=batch_tile_args,
        layers=layers_arg(),
        device=config["device"],
        dtype=config["dtype"],
        batch_size=config["batch_size"],
        unphased=flag("allow_unphased", "--allow-unphased"),
        user_code=flag("allow_user_code", "--allow-user-code"),
        gpu_slots=gpu_slots_arg,
        tiles=config["tiles"],
        rows=batch_tile_rows,
        config_json=lambda wildcards: json.dumps(
            recorded_config(config), sort_keys=True
        ),
    shell:
        "vcf2embed embed {params.tile_args} --tiles '{params.tiles}' --outdir '{output}'"
        " {params.layers} --device {params.device} --dtype {params.dtype}"
        " --batch-size {params.batch_size} {params.unphased} {params.user_code}"
        " {params.gpu_slots} --config-json {params.config_json:q} --on-tile-error {params.on_error} {params.lab} 2> '{log}'"
        " || {{ tail -n 1 '{log}' >&2; exit 1; }}"


localrules:
    publish,
    publish_layer,


ruleorder: publish > publish_layer


rule publish:
    """Link a tile's embeddings and QC from its batch folder to their final place."""
    input:
        lambda wildcards: f"{OUTDIR}/.embed_batches/{TILE_BATCH[wildcards.tile]}",
    output:
        latent=f"{OUTDIR}/embeddings/layer=latent/{{tile}}.parquet",
        samples=f"{OUTDIR}/qc/{{tile}}.samples.tsv",
        qc=f"{OUTDIR}/qc/{{tile}}.json",
    log:
        f"{OUTDIR}/logs/publish/{{tile}}.log",
    conda:
        "../../envs/vcf2embed.yaml"
    params:
        outdir=lambda wildcards, output: Path(output.qc).parent.parent,
        keep=lambda wildcards: ",".join(TILE_LAYERS.get(wildcards.tile, [])),
    shell:
        "vcf2embed publish --batch-dir '{input}' --outdir '{params.outdir}'"
        " --tile {wildcards.tile} --keep-layers '{params.keep}' 2> '{log}'"
        " || {{ tail -n 1 '{log}' >&2; exit 1; }}"


rule publish_layer:
    """Link one captured layer's file of a tile from its batch folder (a plain hard link: one job
    per tile and layer must not start Python; a skipped tile's empty file is written by
    `vcf2embed publish`)."""
    input:
        lambda wildcards: f"{OUTDIR}/.embed_batches/{TILE_BATCH[wildcards.tile]}",
    output:
        f"{OUTDIR}/embeddings/layer={{layer}}/{{tile}}.parquet",
    log:
        f"{OUTDIR}/logs/publish/{{tile}}.{{layer}}.log",
    conda:
        "../../envs/vcf2embed.yaml"
    params:
        source=lambda wildcards, input: (
            f"{input[0]}/embeddings/layer={wildcards.layer}/{wildcards.tile}.parquet"
        ),
        outdir=lambda wildcards, output: Path(output[0]).parents[2],
    shell:
        "if [ -e '{params.source}' ]; then"
        " ln -f '{params.source}' '{output}' 2> '{log}' || cp '{params.source}' '{output}';"
        " touch '{output}';"
        " else vcf2embed publish --batch-dir '{input}' --outdir '{params.outdir}'"
        " --tile {wildcards.tile} --layer '{wildcards.layer}' 2> '{log}'; fi"
