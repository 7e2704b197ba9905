# The report: JSON context of every number -> LaTeX via jinja2 -> PDF via latexmk (when TeX is present).
# Each study registers its result tables, benchmark files and figures in STUDY_FILES (its own .smk).


# Seconds each, and latexmk lives on the submit host: never sent to a cluster scheduler.
localrules:
    report_context,
    report_tex,
    report_pdf,


# Report context: every number the report quotes, with provenance (commit, config hash, versions, wall times).
rule report_context:
    input:
        results=report_inputs("results"),
        benchmarks=report_inputs("benchmarks"),
        code=code("report/context", "gsnr/simulate"),
    output:
        "results/report/context.json",
    log:
        "results/logs/report/context.log",
    conda:
        ENV
    params:
        config=as_json(config),
        studies=" ".join(f"--study {name}=results/{name}" for name in STUDIES),
        figures=report_inputs("figures"),  # their paths only: restyling a figure leaves the context as is
    message:
        "report: context of every quoted number -> {output}"
    shell:
        "python -m scaledyn.report context --config {params.config:q} {params.studies}"
        " --benchmarks {input.benchmarks} --figures {params.figures} --out {output} > {log} 2>&1"


# Render the LaTeX source (report.tex and one partial per study) from the context and paper/*.tex.j2.
rule report_tex:
    input:
        context=rules.report_context.output,
        templates=sorted(str(p) for p in Path("paper").glob("*.tex.j2")),
        code=code("report/render"),
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
        figures=report_inputs("figures"),
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
