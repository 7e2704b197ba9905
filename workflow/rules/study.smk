# The rules every study shares, generated from its contract (scaledyn.<study>.CONTRACT, gathered in
# scaledyn.studies): analyse (its tables), claims (claims.json) and one job per figure (scaledyn.plots.FIGURES).
# A study's own .smk holds what is particular to it: the rules that make the files its analysis reads,
# registered in STUDY_RUNS[study] (named inputs; "runs" are the files passed to the analyse step).
# Analysis, claims and figures take seconds: on a cluster they run on the submit host (localrule).
CONTRACTS = scaledyn_studies.CONTRACTS


def step_params(study, step):
    """The part of the study's section its `step` reads (Contract.reads), as JSON."""
    keys, section = CONTRACTS[study].reads[step], config[study]
    return as_json(section if keys is None else {k: section[k] for k in keys})


def params_argument(study, step):
    """The step's --params argument, none when it reads nothing of its section."""
    return "" if CONTRACTS[study].reads[step] == () else " --params {params.section:q}"


def claims_inputs(study):
    """The files the claims step reads: the analysis tables it names, or the runs themselves."""
    tables = CONTRACTS[study].claims_tables
    if tables is None:
        return STUDY_RUNS[study]["runs"]
    return [f"results/{study}/{t}.csv" for t in tables]


def figure_options(study):
    """The config values the study's figures take (--option NAME=VALUE), from its section's claims."""
    names = sorted({o for fig in FIGURES[study].values() for o in fig.options})
    return {o: config[study]["claims"][o] for o in names}


for _study, _contract in CONTRACTS.items():
    _dir, _figs = f"results/{_study}", f"results/figures/{_study}"
    _options = figure_options(_study)

    # The study's tables from the files its simulation or training made.
    rule:
        name:
            f"{_study}_analyse"
        input:
            **STUDY_RUNS[_study],
            code=step_code(_study, "analyse"),
        output:
            **with_provenance({t: f"{_dir}/{t}.csv" for t in _contract.tables}),
        log:
            f"results/logs/{_study}/analyse.log",
        benchmark:
            f"results/benchmarks/{_study}_analyse/all.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=2048,
            runtime=10,
        params:
            section=step_params(_study, "analyse"),
            stats=as_json(config["stats"]),
            out_dir=lambda wildcards, output: Path(output[0]).parent,
            n_inputs=lambda wildcards, input: len(input.runs),
        message:
            f"{_study}: analyse {{params.n_inputs}} inputs -> {_dir}"
        shell:
            f"python -m scaledyn.{_study} analyse --inputs {{input.runs}}"
            + params_argument(_study, "analyse")
            + " --stats {params.stats:q} --out-dir {params.out_dir} > {log} 2>&1"
            + provenance(f"{_study}_analyse", "section", "stats")

    # The claims of the study's paper (criteria: <study>.claims), one row per claim x scope.
    rule:
        name:
            f"{_study}_claims"
        input:
            tables=claims_inputs(_study),
            code=step_code(_study, "claims"),
        output:
            **with_provenance({"claims": f"{_dir}/claims.json"}),
        log:
            f"results/logs/{_study}/claims.log",
        localrule: True
        conda:
            ENV
        params:
            section=step_params(_study, "claims"),
            stats=as_json(config["stats"]),
        message:
            f"{_study}: claims -> {{output.claims}}"
        shell:
            f"python -m scaledyn.{_study} claims --inputs {{input.tables}}"
            + params_argument(_study, "claims")
            + " --stats {params.stats:q} --out {output.claims} > {log} 2>&1"
            + provenance(f"{_study}_claims", "section", "stats")

    # One figure of FIGURES[study] from its tables (drawing only).
    rule:
        name:
            f"{_study}_figure"
        input:
            tables=figure_inputs(_study, _dir),
            code=code(f"plots.{_study}"),
        output:
            **with_provenance(
                {
                    "pdf": report(
                        f"{_figs}/{{fig}}.pdf",
                        caption="../report/figure.rst",
                        category=_contract.title,
                        labels={"figure": "{fig}"},
                    ),
                    "png": f"{_figs}/{{fig}}.png",
                }
            ),
        log:
            f"results/logs/{_study}/{{fig}}.log",
        wildcard_constraints:
            fig="|".join(FIGURES[_study]),
        localrule: True
        conda:
            ENV
        params:
            **_options,
            caption=caption(_study),
        message:
            f"{_study}: figure {{output.pdf}}"
        shell:
            f"python -m scaledyn.plots.{_study} {{wildcards.fig}} --tables {{input.tables}}"
            + "".join(f" --option {o}={{params.{o}}}" for o in _options)
            + " --out {output.pdf} > {log} 2>&1"
            + provenance(f"{_study}_figure", *_options)
