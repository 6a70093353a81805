rule qc_summary:
    """Collect every tile's QC into one table."""
    input:
        expand(f"{OUTDIR}/qc/{{tile}}.json", tile=TILE_IDS),
    output:
        tiles=f"{OUTDIR}/qc_summary.tsv",
        samples=f"{OUTDIR}/qc_samples.tsv",
    log:
        f"{OUTDIR}/logs/qc_summary.log",
    conda:
        "../../envs/vcf2embed.yaml"
    shell:
        "vcf2embed summarize {input:q} --out '{output.tiles}' --samples-out '{output.samples}' 2> '{log}'"
