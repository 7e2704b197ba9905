# Study 001 (paper 001): the minimal model L(W, gamma) = ||gamma * (W x) - y||^2 under AdamW.
# One simulation job per sweep (dynamics, batch, weight_decay, dimension): all values x seeds of a sweep advance
# as one batched tensor program; each job's params hold only its own sweep, so changing one sweep reruns only
# that job, the analysis, the claims, the figures and the report.
MM = config["minimal_model"]
MM_DIR = "results/minimal_model"
MM_FIGS = "results/figures/minimal_model"
MM_SWEEPS = list(MM["sweeps"])
MM_SWEEP_FILES = expand(f"{MM_DIR}/sweeps/{{sweep}}.csv", sweep=MM_SWEEPS)
from scaledyn.minimal_model import TABLES as MM_TABLES

MM_FIGURES = FIGURES[
    "minimal_model"
]  # name -> drawing function and tables (scaledyn.plots)


STUDY_RUNS["minimal_model"] = {"runs": MM_SWEEP_FILES}
STUDY_FILES["minimal_model"] = {
    "results": [f"{MM_DIR}/{t}.csv" for t in MM_TABLES] + [f"{MM_DIR}/claims.json"],
    "benchmarks": expand(
        "results/benchmarks/minimal_model_simulate/{sweep}.tsv", sweep=MM_SWEEPS
    )
    + ["results/benchmarks/minimal_model_analyse/all.tsv"],
    "figures": figure_files(MM_FIGS, MM_FIGURES),
}


wildcard_constraints:
    sweep="|".join(MM_SWEEPS),


# Simulate one sweep: trajectories of norms, loss and per-parameter SNRs at log-spaced checkpoints.
# Shared between clones by Snakemake's output cache (--cache, docs/caching-and-provenance.md): the sweep table and its timing (CACHED).
rule minimal_model_simulate:
    input:
        code=step_code("minimal_model", "simulate"),
    output:
        **with_provenance(
            {
                "sweep": f"{MM_DIR}/sweeps/{{sweep}}.csv",
                "bench": "results/benchmarks/minimal_model_simulate/{sweep}.tsv",
            },
            skip=("bench",),
        ),
    log:
        "results/logs/minimal_model/simulate/{sweep}.log",
    cache: True
    conda:
        ENV
    threads: 1  # ~0.2 ms per optimizer step of Python overhead: one thread is fastest, sweeps run side by side
    resources:
        mem_mb=lambda wildcards, attempt: 1024 * attempt,  # measured peak RSS ~410 MB (default config)
        runtime=lambda wildcards, attempt: 15 * attempt,  # minutes; measured 12-25 s on 2 vCPUs
    params:
        **CACHED,
        job=lambda wildcards: job_json("minimal_model", wildcards.sweep),
        seed=config["seed"],
    message:
        "minimal_model: simulate the {wildcards.sweep} sweep -> {output.sweep}"
    shell:
        "python -m scaledyn.timed --out {output.bench} --"
        " python -m scaledyn.minimal_model simulate --sweep {wildcards.sweep} --params {params.job:q}"
        " --global-seed {params.seed} --threads {threads} --out {output.sweep} > {log} 2>&1"
        f"{provenance('minimal_model_simulate', 'job', 'seed')}"
