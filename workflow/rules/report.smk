# The report: JSON context of every number -> LaTeX via jinja2 -> PDF via latexmk (when TeX is present).
# Each study registers its result tables, benchmark files and figures in STUDY_FILES (its own .smk).
# Before the context: one claims table of every study's claims.json (results/claims) and its forest plot.


# Seconds each, and latexmk lives on the submit host: never sent to a cluster scheduler.
localrules:
    stats_calibration,
    claims_table,
    claims_figure,
    report_context,
    report_tex,
    report_pdf,


# Measured coverage of the interval methods on synthetic per-seed values with a known mean (n = 3, 5, 8).
rule stats_calibration:
    input:
        code=code("calibration"),
    output:
        **with_provenance({"csv": f"{CLAIMS_DIR}/calibration.csv"}),
    log:
        "results/logs/report/calibration.log",
    conda:
        ENV
    params:
        stats=as_json(config["stats"]),
    message:
        "report: coverage of the interval methods -> {output.csv}"
    shell:
        "python -m scaledyn.calibration --stats {params.stats:q} --out {output.csv} > {log} 2>&1"
        f"{provenance('stats_calibration', 'stats')}"


# One claims table of every study: MDE, p-value, Holm-adjusted verdict, flip point, seeds needed per row.
rule claims_table:
    input:
        claims=claims_files,
        code=code("report.__main__"),
    output:
        **with_provenance(
            {
                "csv": report(
                    f"{CLAIMS_DIR}/claims.csv",
                    caption="../report/claims/table.rst",
                    category="Claims",
                    labels={"claims": "table of every study"},
                ),
                "json": f"{CLAIMS_DIR}/claims.json",
            }
        ),
    log:
        "results/logs/report/claims_table.log",
    conda:
        ENV
    params:
        stats=as_json(config["stats"]),
        adjust=config["stats"]["adjust"],
    message:
        "report: claims table of every study ({params.adjust} adjustment) -> {output.csv}"
    shell:
        "python -m scaledyn.report claims-table --inputs {input.claims} --stats {params.stats:q}"
        " --out {output.csv} > {log} 2>&1"
        f"{provenance('claims_table', 'stats')}"


# One figure of CLAIMS_FIGURES from the claims table (drawing only).
rule claims_figure:
    input:
        tables=figure_inputs("claims", CLAIMS_DIR),
        code=code("plots.claims"),
    output:
        **with_provenance(
            {
                "pdf": report(
                    f"{CLAIMS_FIGS}/{{fig}}.pdf",
                    caption="../report/figure.rst",
                    category="Claims",
                    labels={"claims": "{fig} plot"},
                ),
                "png": f"{CLAIMS_FIGS}/{{fig}}.png",
            }
        ),
    log:
        "results/logs/claims/{fig}.log",
    wildcard_constraints:
        fig="|".join(CLAIMS_FIGURES),
    conda:
        ENV
    params:
        caption=caption("claims"),
    message:
        "report: figure {output.pdf}"
    shell:
        "python -m scaledyn.plots.claims {wildcards.fig} --tables {input.tables}"
        " --out {output.pdf} > {log} 2>&1"
        f"{provenance('claims_figure')}"


# Report context: every number the report quotes, with provenance (commit, config hash, versions, wall times).
rule report_context:
    input:
        results=report_inputs("results"),
        claims=rules.claims_table.output.csv,
        calibration=rules.stats_calibration.output.csv,
        benchmarks=report_inputs("benchmarks"),
        code=code("report.__main__", *study_report_modules()),
    output:
        "results/report/context.json",
    log:
        "results/logs/report/context.log",
    conda:
        ENV
    params:
        config=as_json(config),
        studies=" ".join(f"--study {name}=results/{name}" for name in STUDIES),
        figures=every_figure,  # their paths only: restyling a figure leaves the context as is
        sources=report_sources,  # rule names, files and code paths: the links to them
    message:
        "report: context of every quoted number -> {output}"
    shell:
        "python -m scaledyn.report context --config {params.config:q} {params.studies}"
        " --claims {input.claims} --calibration {input.calibration}"
        " --benchmarks {input.benchmarks} --figures {params.figures} --sources {params.sources:q}"
        " --out {output} > {log} 2>&1"


# Render the LaTeX source (report.tex and one partial per study) from the context and paper/*.tex.j2.
rule report_tex:
    input:
        context=rules.report_context.output,
        templates=sorted(str(p) for p in Path("paper").glob("*.tex.j2")),
        code=code("report.__main__"),
    output:
        main="results/report/report.tex",
        parts=expand("results/report/{study}.tex", study=STUDIES),
    log:
        "results/logs/report/tex.log",
    conda:
        ENV
    params:
        templates=lambda wildcards, input: Path(input.templates[0]).parent,
        out_dir=lambda wildcards, output: Path(output.main).parent,
    message:
        "report: LaTeX -> {output.main}"
    shell:
        "python -m scaledyn.report tex --context {input.context} --templates {params.templates}"
        " --out-dir {params.out_dir} > {log} 2>&1"


# Compile the PDF (latexmk, pdflatex) beside the .tex; figures are read from results/figures.
rule report_pdf:
    input:
        tex=rules.report_tex.output,
        figures=every_figure,
    output:
        "results/report/report.pdf",
    log:
        "results/logs/report/pdf.log",
    conda:
        ENV
    message:
        "report: PDF -> {output}"
    shell:
        "latexmk -pdf -cd -interaction=nonstopmode -halt-on-error {input.tex[0]} > {log} 2>&1"
