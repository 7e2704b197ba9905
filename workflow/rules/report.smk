# The report: JSON context of every number -> LaTeX via jinja2 -> PDF via latexmk (when TeX is present).

REPORT = "results/report"
STUDY_RESULTS = {"gsnr": rules.gsnr_aggregate.output}


def report_inputs(wildcards):
    """Result files of the configured studies that the report context reads."""
    return [f for name in STUDIES for f in STUDY_RESULTS[name]]


def benchmark_files(wildcards):
    """Snakemake benchmark files of the heavy rules; their wall times go into the provenance appendix."""
    files = []
    if "gsnr" in STUDIES:
        files += expand(
            "results/benchmarks/gsnr_simulate/{noise}_{optimizer}.tsv",
            noise=GSNR["noise_models"],
            optimizer=GSNR["optimizers"],
        )
        files.append("results/benchmarks/gsnr_aggregate/all.tsv")
    return files


def report_figures(wildcards):
    return gsnr_figures() if "gsnr" in STUDIES else []


# Report context: every number the report quotes, with provenance (commit, config hash, versions, wall times).
rule report_context:
    input:
        results=report_inputs,
        benchmarks=benchmark_files,
        code=code("report/context", "gsnr/simulate"),
    output:
        f"{REPORT}/context.json",
    params:
        config=as_json(config),
        studies=lambda wildcards: " ".join(
            f"--study {name}=results/{name}" for name in STUDIES
        ),
    log:
        "results/logs/report/context.log",
    shell:
        "{PY} -m scaledyn.report context --config {params.config:q} {params.studies}"
        " --benchmarks {input.benchmarks} --out {output} > {log} 2>&1"


# Render the LaTeX source from the context and the templates in paper/.
rule report_tex:
    input:
        context=rules.report_context.output,
        templates=sorted(str(p) for p in Path("paper").glob("*.tex.j2")),
        code=code("report/render"),
    output:
        main=f"{REPORT}/report.tex",
        parts=expand(f"{REPORT}/{{study}}.tex", study=STUDIES),
    log:
        "results/logs/report/tex.log",
    shell:
        "{PY} -m scaledyn.report tex --context {input.context} --templates paper"
        " --out-dir {REPORT} > {log} 2>&1"


# Compile the PDF (latexmk, pdflatex) beside the .tex; figures are read from results/figures.
rule report_pdf:
    input:
        tex=rules.report_tex.output,
        figures=report_figures,
    output:
        f"{REPORT}/report.pdf",
    log:
        "results/logs/report/pdf.log",
    shell:
        "latexmk -pdf -cd -interaction=nonstopmode -halt-on-error {REPORT}/report.tex > {log} 2>&1"
