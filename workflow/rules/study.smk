# The rules every study shares, generated from its contract (scaledyn.<study>.CONTRACT, gathered in
# scaledyn.studies): analyse (its tables), claims (claims.json) and one job per figure (scaledyn.plots.FIGURES).
# A study's own .smk holds what is particular to it: the rules that make the files its analysis reads,
# registered in STUDY_RUNS[study] (named inputs; "runs" are the files passed to the analyse step).
# Analysis, claims and figures take seconds: on a cluster they run on the submit host (localrule).
# A rule's shell command is evaluated again when its job runs, after the loop has ended: the commands below
# are the same for every study and take what is the study's own from params (set when the rule is defined).
CONTRACTS = scaledyn_studies.CONTRACTS
ANALYSE_SHELL = (
    "python -m scaledyn.{params.study} analyse --inputs {input.runs}{params.arguments}"
    " --stats {params.stats:q} --out-dir {params.out_dir} > {log} 2>&1"
    + provenance("{params.rule}", "section", "stats")
)
CLAIMS_SHELL = (
    "python -m scaledyn.{params.study} claims --inputs {input.tables}{params.arguments}"
    " --stats {params.stats:q} --out {output.claims} > {log} 2>&1"
    + provenance("{params.rule}", "section", "stats")
)
FIGURE_SHELL = (
    "python -m scaledyn.plots.{params.study} {wildcards.fig} --tables {input.tables}{params.arguments}"
    " --out {output.pdf} > {log} 2>&1"
    + provenance("{params.rule}", more="{params.sections}")
)


def step_params(study, step):
    """The part of the study's section its `step` reads (Contract.reads), as JSON."""
    keys, section = CONTRACTS[study].reads[step], config[study]
    return as_json(section if keys is None else {k: section[k] for k in keys})


def params_argument(study, step):
    """The step's --params argument (quoted), none when it reads nothing of its section."""
    if CONTRACTS[study].reads[step] == ():
        return ""
    return " --params " + shlex.quote(step_params(study, step))


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


def quoted_pairs(flag, values):
    """` --<flag> NAME=VALUE` for each value, quoted for the shell."""
    return "".join(f" --{flag} {shlex.quote(f'{k}={v}')}" for k, v in values.items())


for _study, _contract in CONTRACTS.items():
    _dir, _figs = f"results/{_study}", f"results/figures/{_study}"
    _options = figure_options(
        _study
    )  # evaluated here: a shell command may not read loop variables

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
            study=_study,
            rule=f"{_study}_analyse",
            arguments=params_argument(_study, "analyse"),
            section=step_params(_study, "analyse"),
            stats=as_json(config["stats"]),
            out_dir=lambda wildcards, output: Path(output[0]).parent,
            n_inputs=lambda wildcards, input: len(input.runs),
        message:
            f"{_study}: analyse {{params.n_inputs}} inputs -> {_dir}"
        shell:
            ANALYSE_SHELL

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
            study=_study,
            rule=f"{_study}_claims",
            arguments=params_argument(_study, "claims"),
            section=step_params(_study, "claims"),
            stats=as_json(config["stats"]),
        message:
            f"{_study}: claims -> {{output.claims}}"
        shell:
            CLAIMS_SHELL

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
            study=_study,
            rule=f"{_study}_figure",
            arguments=quoted_pairs("option", _options),
            sections=quoted_pairs("section", _options),
            caption=caption(_study),
        message:
            f"{_study}: figure {{output.pdf}}"
        shell:
            FIGURE_SHELL
