# Study 000 (paper 000): GSNR as an indicator of scale adaptation.
# One simulation job per (noise model, optimiser), all shapes inside; each job's params hold only its own
# sweep, so changing one noise model's noise levels reruns only its jobs, the analysis, the figures and
# the report. Then (study.smk): analyse (tables), claims (claims.json), one job per figure.
GSNR = config["gsnr"]
GSNR_DIR = "results/gsnr"
GSNR_FIGS = "results/figures/gsnr"

GSNR_FIGURES = FIGURES["gsnr"]  # name -> drawing function and tables (scaledyn.plots)


GSNR_RUNS = expand(
    f"{GSNR_DIR}/runs/{{noise}}_{{optimizer}}.csv",
    noise=GSNR["noise_models"],
    optimizer=GSNR["optimizers"],
)
STUDY_RUNS["gsnr"] = {"runs": GSNR_RUNS}
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


wildcard_constraints:
    noise="|".join(GSNR["noise_models"]),
    optimizer="|".join(GSNR["optimizers"]),


# Simulate one (noise model, optimiser) job: per shape, all noise levels, seeds and controls as one tensor program.
# Shared between clones by Snakemake's output cache (--cache, docs/caching-and-provenance.md): the run table and its timing (CACHED).
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
        job=lambda wildcards: job_json("gsnr", wildcards.noise),
        seed=config["seed"],
    message:
        "gsnr: simulate {wildcards.noise} noise x {wildcards.optimizer} -> {output.runs}"
    shell:
        "python -m scaledyn.timed --out {output.bench} --"
        " python -m scaledyn.gsnr simulate --noise {wildcards.noise} --optimizer {wildcards.optimizer}"
        " --params {params.job:q} --global-seed {params.seed}"
        " --threads {threads} --out {output.runs} > {log} 2>&1"
        f"{provenance('gsnr_simulate', 'job', 'seed')}"
