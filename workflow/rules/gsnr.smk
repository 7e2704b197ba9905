# Study 000 (paper 000): GSNR as an indicator of scale adaptation.
# One simulation job per (noise model, optimiser), all shapes inside; each job's params hold only its own
# sweep, so changing one noise model's noise levels reruns only its jobs, the aggregation, the figures and
# the report. Helpers (job params, target lists) live in common.smk.


# Aggregation and figures take seconds: on a cluster they run on the submit host, not as Slurm jobs.
localrules:
    gsnr_aggregate,
    gsnr_fig1,
    gsnr_fig2,
    gsnr_fig3,


wildcard_constraints:
    noise="|".join(GSNR["noise_models"]),
    optimizer="|".join(GSNR["optimizers"]),


# Simulate one (noise model, optimiser) job: per shape, all noise levels, seeds and controls as one tensor program.
rule gsnr_simulate:
    input:
        code("gsnr"),
    output:
        f"{GSNR_DIR}/runs/{{noise}}_{{optimizer}}.csv",
    log:
        "results/logs/gsnr/simulate/{noise}_{optimizer}.log",
    benchmark:
        "results/benchmarks/gsnr_simulate/{noise}_{optimizer}.tsv"
    conda:
        ENV
    threads: 1  # small batched elementwise work: one thread is fastest, jobs run side by side
    resources:
        mem_mb=lambda wildcards, attempt: 1024 * attempt,  # measured peak RSS ~450 MB (default config)
        runtime=lambda wildcards, attempt: 10 * attempt,  # minutes; measured ~10-25 s on 2 vCPUs
    params:
        job=gsnr_job_params,
        seed=config["seed"],
    shell:
        "python -m scaledyn.gsnr simulate --noise {wildcards.noise} --optimizer {wildcards.optimizer}"
        " --params {params.job:q} --global-seed {params.seed}"
        " --threads {threads} --out {output} > {log} 2>&1"


# Aggregate all jobs: summary over seeds, threshold classifier, claims of paper 000.
rule gsnr_aggregate:
    input:
        runs=gsnr_runs(),
        code=code("gsnr", "stats"),
    output:
        runs=f"{GSNR_DIR}/runs.csv",
        summary=f"{GSNR_DIR}/summary.csv",
        classifier=f"{GSNR_DIR}/classifier.csv",
        curves=f"{GSNR_DIR}/curves.csv",
        confusion=f"{GSNR_DIR}/confusion.csv",
        claims=f"{GSNR_DIR}/claims.json",
    log:
        "results/logs/gsnr/aggregate.log",
    benchmark:
        "results/benchmarks/gsnr_aggregate/all.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1024,
        runtime=10,
    params:
        gsnr=as_json(GSNR),
        stats=as_json(config["stats"]),
        out_dir=lambda wildcards, output: Path(output.claims).parent,
    shell:
        "python -m scaledyn.gsnr aggregate --runs {input.runs} --params {params.gsnr:q}"
        " --stats {params.stats:q} --out-dir {params.out_dir} > {log} 2>&1"


# Fig 1: GSNR at init vs scale adaptation, colour by shape, marker by label, fitted threshold dashed.
rule gsnr_fig1:
    input:
        runs=rules.gsnr_aggregate.output.runs,
        classifier=rules.gsnr_aggregate.output.classifier,
        code=code("plots/style", "plots/gsnr"),
    output:
        pdf=report(
            f"{GSNR_FIGS}/fig1_gsnr_vs_adaptation.pdf",
            caption="../report/gsnr_fig1.rst",
            category="Study 000: GSNR",
        ),
        png=f"{GSNR_FIGS}/fig1_gsnr_vs_adaptation.png",
    log:
        "results/logs/gsnr/fig1.log",
    conda:
        ENV
    params:
        estimate=GSNR["claims"]["estimate"],
    shell:
        "python -m scaledyn.plots.gsnr fig1 --runs {input.runs} --classifier {input.classifier}"
        " --estimate {params.estimate} --out {output.pdf} > {log} 2>&1"


# Fig 2: GSNR (left) and scale adaptation (right) vs noise level per shape, mean and CI over seeds.
rule gsnr_fig2:
    input:
        summary=rules.gsnr_aggregate.output.summary,
        code=code("plots/style", "plots/gsnr"),
    output:
        pdf=report(
            f"{GSNR_FIGS}/fig2_noise_sweep.pdf",
            caption="../report/gsnr_fig2.rst",
            category="Study 000: GSNR",
        ),
        png=f"{GSNR_FIGS}/fig2_noise_sweep.png",
    log:
        "results/logs/gsnr/fig2.log",
    conda:
        ENV
    params:
        estimate=GSNR["claims"]["estimate"],
    shell:
        "python -m scaledyn.plots.gsnr fig2 --summary {input.summary}"
        " --estimate {params.estimate} --out {output.pdf} > {log} 2>&1"


# Fig 3: threshold classification, accuracy vs threshold with the chosen one, and the confusion matrix.
rule gsnr_fig3:
    input:
        curves=rules.gsnr_aggregate.output.curves,
        confusion=rules.gsnr_aggregate.output.confusion,
        classifier=rules.gsnr_aggregate.output.classifier,
        code=code("plots/style", "plots/gsnr"),
    output:
        pdf=report(
            f"{GSNR_FIGS}/fig3_threshold.pdf",
            caption="../report/gsnr_fig3.rst",
            category="Study 000: GSNR",
        ),
        png=f"{GSNR_FIGS}/fig3_threshold.png",
    log:
        "results/logs/gsnr/fig3.log",
    conda:
        ENV
    params:
        estimate=GSNR["claims"]["estimate"],
    shell:
        "python -m scaledyn.plots.gsnr fig3 --curves {input.curves} --confusion {input.confusion}"
        " --classifier {input.classifier} --estimate {params.estimate} --out {output.pdf} > {log} 2>&1"
