rule qc_summary:
    """Collect every tile's QC into one table per tile and one per sample."""
    input:
        qc=expand(f"{OUTDIR}/qc/{{tile}}.json", tile=TILE_IDS),
        tiles=config["tiles"],
    output:
        tiles=f"{OUTDIR}/qc_summary.tsv",
        samples=f"{OUTDIR}/qc_samples.tsv",
    log:
        f"{OUTDIR}/logs/qc_summary.log",
    conda:
        "../../envs/vcf2embed.yaml"
    params:
        lab=lab_metadata_arg(),
    shell:
        "vcf2embed summarize {input.qc:q} --out '{output.tiles}' --samples-out '{output.samples}'"
        " --tiles '{input.tiles}' {params.lab} 2> '{log}'"
        " || {{ tail -n 1 '{log}' >&2; exit 1; }}"


rule report:
    """Figures and tables that show what the models see."""
    input:
        qc=expand(f"{OUTDIR}/qc/{{tile}}.json", tile=TILE_IDS),
        latent=expand(
            f"{OUTDIR}/embeddings/layer=latent/{{tile}}.parquet", tile=TILE_IDS
        ),
        metadata=metadata_input,
    output:
        table=report(
            f"{OUTDIR}/report/qc_summary.html",
            caption="../report/qc_table.rst",
            category="QC",
        ),
        match=report(
            f"{OUTDIR}/report/match_concordance.png",
            caption="../report/match_concordance.rst",
            category="QC",
        ),
        pca=report(
            f"{OUTDIR}/report/latent_pca.png",
            caption="../report/latent_pca.rst",
            category="Embeddings",
        ),
        pca_stats=f"{OUTDIR}/report/latent_pca.json",
        pca_scores=f"{OUTDIR}/report/latent_pca.tsv",
        activations=report(
            f"{OUTDIR}/report/activations.png",
            caption="../report/activations.rst",
            category="Embeddings",
        ),
        umap=report_umap_output(),
    log:
        f"{OUTDIR}/logs/report.log",
    conda:
        "../../envs/vcf2embed.yaml"
    resources:
        mem_mb=report_mem_mb,
    params:
        embeddings=lambda wildcards, input: Path(input.latent[0]).parent.parent,
        out=lambda wildcards, output: Path(output.pca).parent,
        options=report_options(),
    shell:
        "vcf2embed report {input.qc:q} --embeddings '{params.embeddings}'"
        " --out '{params.out}' {params.options} 2> '{log}'"
        " || {{ tail -n 1 '{log}' >&2; exit 1; }}"
