# Study 000 (paper 000): GSNR as an indicator of scale adaptation.
# One simulation job per (noise model, optimiser), all shapes inside; each job's params hold only its own
# sweep, so changing one noise model's noise levels reruns only its jobs, the analysis, the figures and
# the report. Then: analyse (tables), claims (claims.json), one job per figure.
GSNR = config["gsnr"]
GSNR_DIR = "results/gsnr"
GSNR_FIGS = "results/figures/gsnr"
from scaledyn.gsnr import TABLES as GSNR_TABLES, job_params as gsnr_job_params

GSNR_FIGURES = FIGURES["gsnr"]  # name -> drawing function and tables (scaledyn.plots)


GSNR_RUNS = expand(
    f"{GSNR_DIR}/runs/{{noise}}_{{optimizer}}.csv",
    noise=GSNR["noise_models"],
    optimizer=GSNR["optimizers"],
)
STUDY_FILES["gsnr"] = {
    "results": [
        f"{GSNR_DIR}/{f}" for f in ("claims.json", "classifier.csv", "runs.csv")
    ],
    "benchmarks": expand(
        "results/benchmarks/gsnr_simulate/{noise}_{optimizer}.tsv",
        noise=GSNR["noise_models"],
        optimizer=GSNR["optimizers"],
    )
    + ["results/benchmarks/gsnr_analyse/all.tsv"],
    "figures": figure_files(GSNR_FIGS, GSNR_FIGURES),
}


# Analysis, claims and figures take seconds: on a cluster they run on the submit host, not as Slurm jobs.
localrules:
    gsnr_analyse,
    gsnr_claims,
    gsnr_figure,


wildcard_constraints:
    noise="|".join(GSNR["noise_models"]),
    optimizer="|".join(GSNR["optimizers"]),


# Simulate one (noise model, optimiser) job: per shape, all noise levels, seeds and controls as one tensor program.
# Shared between clones by Snakemake's output cache (--cache, README): the run table and its timing (CACHED).
rule gsnr_simulate:
    input:
        code=step_code("gsnr", "simulate"),
    output:
        **with_provenance(
            {
                "runs": f"{GSNR_DIR}/runs/{{noise}}_{{optimizer}}.csv",
                "bench": "results/benchmarks/gsnr_simulate/{noise}_{optimizer}.tsv",
            },
            skip=("bench",),
        ),
    log:
        "results/logs/gsnr/simulate/{noise}_{optimizer}.log",
    cache: True
    conda:
        ENV
    threads: 1  # small batched elementwise work: one thread is fastest, jobs run side by side
    resources:
        mem_mb=lambda wildcards, attempt: 1024 * attempt,  # measured peak RSS ~450 MB (default config)
        runtime=lambda wildcards, attempt: 10 * attempt,  # minutes; measured ~10-25 s on 2 vCPUs
    params:
        **CACHED,
        job=lambda wildcards: as_json(gsnr_job_params(GSNR, wildcards.noise)),
        seed=config["seed"],
    message:
        "gsnr: simulate {wildcards.noise} noise x {wildcards.optimizer} -> {output.runs}"
    shell:
        "python -m scaledyn.timed --out {output.bench} --"
        " python -m scaledyn.gsnr simulate --noise {wildcards.noise} --optimizer {wildcards.optimizer}"
        " --params {params.job:q} --global-seed {params.seed}"
        " --threads {threads} --out {output.runs} > {log} 2>&1"
        f"{provenance('gsnr_simulate', 'job', 'seed')}"


# Analyse all jobs: summary over seeds and the threshold classifier (tables under results/gsnr).
rule gsnr_analyse:
    input:
        runs=GSNR_RUNS,
        code=step_code("gsnr", "analyse"),
    output:
        **with_provenance({t: f"{GSNR_DIR}/{t}.csv" for t in GSNR_TABLES}),
    log:
        "results/logs/gsnr/analyse.log",
    benchmark:
        "results/benchmarks/gsnr_analyse/all.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1024,
        runtime=10,
    params:
        stats=as_json(config["stats"]),
        out_dir=lambda wildcards, output: Path(output.runs).parent,
    message:
        "gsnr: analyse {input.runs[0]} ... -> {GSNR_DIR}"
    shell:
        "python -m scaledyn.gsnr analyse --runs {input.runs} --stats {params.stats:q}"
        " --out-dir {params.out_dir} > {log} 2>&1"
        f"{provenance('gsnr_analyse', 'stats')}"


# The claims of paper 000 against the runs (criteria: gsnr.claims).
rule gsnr_claims:
    input:
        runs=rules.gsnr_analyse.output.runs,
        code=step_code("gsnr", "claims"),
    output:
        **with_provenance({"claims": f"{GSNR_DIR}/claims.json"}),
    log:
        "results/logs/gsnr/claims.log",
    conda:
        ENV
    params:
        gsnr=as_json(GSNR),
        stats=as_json(config["stats"]),
    message:
        "gsnr: claims -> {output.claims}"
    shell:
        "python -m scaledyn.gsnr claims --inputs {input.runs} --params {params.gsnr:q}"
        " --stats {params.stats:q} --out {output.claims} > {log} 2>&1"
        f"{provenance('gsnr_claims', 'gsnr', 'stats')}"


# One figure of GSNR_FIGURES from its tables (drawing only).
rule gsnr_figure:
    input:
        tables=figure_inputs("gsnr", GSNR_DIR),
        code=code("plots.gsnr"),
    output:
        **with_provenance(
            {
                "pdf": report(
                    f"{GSNR_FIGS}/{{fig}}.pdf",
                    caption="../report/figure.rst",
                    category="Study 000: GSNR",
                    labels={"figure": "{fig}"},
                ),
                "png": f"{GSNR_FIGS}/{{fig}}.png",
            }
        ),
    log:
        "results/logs/gsnr/{fig}.log",
    wildcard_constraints:
        fig="|".join(GSNR_FIGURES),
    conda:
        ENV
    params:
        estimate=GSNR["claims"]["estimate"],
        caption=caption("gsnr"),
    message:
        "gsnr: figure {output.pdf}"
    shell:
        "python -m scaledyn.plots.gsnr {wildcards.fig} --tables {input.tables}"
        " --option estimate={params.estimate} --out {output.pdf} > {log} 2>&1"
        f"{provenance('gsnr_figure', 'estimate')}"
