# Study 001 (paper 001): the minimal model L(W, gamma) = ||gamma * (W x) - y||^2 under AdamW.
# One simulation job per sweep (dynamics, batch, weight_decay, dimension): all values x seeds of a sweep advance
# as one batched tensor program; each job's params hold only its own sweep, so changing one sweep reruns only
# that job, the analysis, the figures and the report. Helpers live in common.smk.


# Analysis and figures take seconds: on a cluster they run on the submit host, not as Slurm jobs.
localrules:
    minimal_model_analyse,
    minimal_model_fig1,
    minimal_model_fig2,
    minimal_model_fig3,
    minimal_model_fig4,


wildcard_constraints:
    sweep="|".join(MM_SWEEPS),


# Simulate one sweep: trajectories of norms, loss and per-parameter SNRs at log-spaced checkpoints.
rule minimal_model_simulate:
    input:
        code("minimal_model", "params"),
    output:
        f"{MM_DIR}/sweeps/{{sweep}}.csv",
    log:
        "results/logs/minimal_model/simulate/{sweep}.log",
    benchmark:
        "results/benchmarks/minimal_model_simulate/{sweep}.tsv"
    conda:
        ENV
    threads: 1  # ~0.2 ms per optimizer step of Python overhead: one thread is fastest, sweeps run side by side
    resources:
        mem_mb=lambda wildcards, attempt: 1024 * attempt,  # measured peak RSS ~410 MB (default config)
        runtime=lambda wildcards, attempt: 15 * attempt,  # minutes; measured 12-25 s on 2 vCPUs
    params:
        job=mm_job_params,
        seed=config["seed"],
    shell:
        "python -m scaledyn.minimal_model simulate --sweep {wildcards.sweep} --params {params.job:q}"
        " --global-seed {params.seed} --threads {threads} --out {output} > {log} 2>&1"


# Derived results and the claims of paper 001: phase means, equilibria, settle times, slopes with CIs.
rule minimal_model_analyse:
    input:
        sweeps=expand(f"{MM_DIR}/sweeps/{{sweep}}.csv", sweep=MM_SWEEPS),
        code=code("minimal_model", "stats", "params"),
    output:
        **{Path(f).stem: f"{MM_DIR}/{f}" for f in MM_TABLES},
    log:
        "results/logs/minimal_model/analyse.log",
    benchmark:
        "results/benchmarks/minimal_model_analyse/all.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2048,
        runtime=10,
    params:
        mm=as_json(MM),
        stats=as_json(config["stats"]),
        out_dir=lambda wildcards, output: Path(output.claims).parent,
    shell:
        "python -m scaledyn.minimal_model analyse --inputs {input.sweeps} --params {params.mm:q}"
        " --stats {params.stats:q} --out-dir {params.out_dir} > {log} 2>&1"


# Fig 1: dynamics at the headline, norms with the equilibrium reference, SNRs and their ratio vs step.
rule minimal_model_fig1:
    input:
        dynamics=f"{MM_DIR}/sweeps/dynamics.csv",
        code=code("plots/style", "plots/minimal_model"),
    output:
        pdf=report(
            f"{MM_FIGS}/fig1_dynamics.pdf",
            caption="../report/minimal_model_fig1.rst",
            category="Study 001: minimal model",
        ),
        png=f"{MM_FIGS}/fig1_dynamics.png",
    log:
        "results/logs/minimal_model/fig1.log",
    conda:
        ENV
    params:
        mm=mm_figure_params(),
    shell:
        "python -m scaledyn.plots.minimal_model fig1 --dynamics {input.dynamics} --params {params.mm:q}"
        " --out {output.pdf} > {log} 2>&1"


# Fig 2: equilibrium norms and SNRs vs batch size, per phase.
rule minimal_model_fig2:
    input:
        equilibrium=rules.minimal_model_analyse.output.equilibrium,
        phase_means=rules.minimal_model_analyse.output.phase_means,
        code=code("plots/style", "plots/minimal_model"),
    output:
        pdf=report(
            f"{MM_FIGS}/fig2_batch.pdf",
            caption="../report/minimal_model_fig2.rst",
            category="Study 001: minimal model",
        ),
        png=f"{MM_FIGS}/fig2_batch.png",
    log:
        "results/logs/minimal_model/fig2.log",
    conda:
        ENV
    params:
        mm=mm_figure_params(),
    shell:
        "python -m scaledyn.plots.minimal_model fig2 --equilibrium {input.equilibrium}"
        " --phase-means {input.phase_means} --params {params.mm:q} --out {output.pdf} > {log} 2>&1"


# Fig 3: norms and final loss vs weight decay, including lambda = 0.
rule minimal_model_fig3:
    input:
        equilibrium=rules.minimal_model_analyse.output.equilibrium,
        runs=rules.minimal_model_analyse.output.runs,
        code=code("plots/style", "plots/minimal_model"),
    output:
        pdf=report(
            f"{MM_FIGS}/fig3_weight_decay.pdf",
            caption="../report/minimal_model_fig3.rst",
            category="Study 001: minimal model",
        ),
        png=f"{MM_FIGS}/fig3_weight_decay.png",
    log:
        "results/logs/minimal_model/fig3.log",
    conda:
        ENV
    params:
        mm=mm_figure_params(),
    shell:
        "python -m scaledyn.plots.minimal_model fig3 --equilibrium {input.equilibrium}"
        " --runs {input.runs} --params {params.mm:q} --out {output.pdf} > {log} 2>&1"


# Fig 4: SNRs and their ratio vs d, per phase, with fitted and predicted slopes.
rule minimal_model_fig4:
    input:
        phase_means=rules.minimal_model_analyse.output.phase_means,
        slopes=rules.minimal_model_analyse.output.slopes,
        code=code("plots/style", "plots/minimal_model"),
    output:
        pdf=report(
            f"{MM_FIGS}/fig4_dimension.pdf",
            caption="../report/minimal_model_fig4.rst",
            category="Study 001: minimal model",
        ),
        png=f"{MM_FIGS}/fig4_dimension.png",
    log:
        "results/logs/minimal_model/fig4.log",
    conda:
        ENV
    params:
        mm=mm_figure_params(),
    shell:
        "python -m scaledyn.plots.minimal_model fig4 --phase-means {input.phase_means}"
        " --slopes {input.slopes} --params {params.mm:q} --out {output.pdf} > {log} 2>&1"
