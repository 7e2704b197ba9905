# What every study's rules share: the config (completed and validated by scaledyn.config), the shell prefix,
# the code-dependency helper, figure rules' captions and the registry of what each study hands to the report.
import json

import jinja2
import shlex
import shutil
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))  # the package beside this Snakefile, as the jobs run it

from scaledyn import config as scaledyn_config
from scaledyn import imports as scaledyn_imports
from scaledyn import studies as scaledyn_studies
from scaledyn import io as scaledyn_io
from scaledyn import provenance as scaledyn_provenance
from scaledyn.plots import FIGURES

ENV = "../../environment.yml"  # the conda environment of every rule (with --use-conda)

# Jobs run `python` from the interpreter running Snakemake, on the package source beside this Snakefile.
shell.prefix(  # formatted by Snakemake like a shell command: literal braces are doubled
    f'export PATH="{Path(sys.executable).parent}:$PATH" '
    f'PYTHONPATH="{SRC}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; '
)

try:
    _validated = scaledyn_studies.load(config)
except (
    scaledyn_config.ConfigError
) as err:  # one line naming the key, no traceback, before any job
    print(f"Error in config: {err}", file=sys.stderr)
    sys.exit(1)
config.clear()
config.update(_validated)
# the configured studies, in the report's order (that of the contracts)
STUDIES = [s for s in scaledyn_studies.CONTRACTS if s in config["studies"]]


def study_rule_files():
    """workflow/rules/<study>.smk of every study: the rules that make the files its analysis reads, which it
    registers in STUDY_RUNS and STUDY_FILES (a study without the file stops the DAG naming it).
    """
    return [f"workflow/rules/{name}.smk" for name in scaledyn_studies.CONTRACTS]


def code(*modules):
    """A job's code inputs: the source files of the import closure of the modules it runs (dotted names under
    scaledyn, e.g. "plots.gsnr"), read from the source by scaledyn.imports. Snakemake's code trigger sees only
    a rule's own body; with these inputs, editing any module a job imports reruns that job, and only those
    jobs (provenance.py and timed.py wrap a job without being imported by it: editing them reruns nothing).
    """
    names = [f"scaledyn.{m}" for m in modules]
    return [
        str(p.relative_to(workflow.basedir))
        for p in scaledyn_imports.closure_files(*names)
    ]


def study_report_modules():
    """The modules of the configured studies' parts of the report context (Contract.report), which
    scaledyn.report.context imports by name: code() cannot see them in its import graph.
    """
    contracts = scaledyn_studies.CONTRACTS
    return [f"{name}.{contracts[name].report}" for name in STUDIES]


def job_json(study, key):
    """One simulation or training job's part of the study's section (Contract.job_params), as JSON: the
    params its rule hashes, so a change elsewhere in the section reruns none of its jobs.
    """
    return as_json(scaledyn_studies.CONTRACTS[study].job_params(config[study], key))


def step_code(study, step):
    """code() of `python -m scaledyn.<study> <step>`: the study's CLI and the module of that step (STEPS)."""
    return code(
        f"{study}.__main__", f"{study}.{scaledyn_studies.CONTRACTS[study].steps[step]}"
    )


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


# Provenance per output (scaledyn.provenance): a rule that writes figures or results tables declares their
# sidecars with with_provenance() and ends its command with provenance(). The job records the git commit
# itself: it is no param, so a new commit reruns nothing, and the sidecars add no job of their own.
def with_provenance(outputs, skip=()):
    """A rule's named outputs plus `<key>_prov`: the sidecar <dir>/<name>.prov.json of each output but the
    `skip` keys (a timing file); outputs sharing a name (a figure's PDF and PNG) share one, keyed by the first.
    One named file each, no list: Snakemake's output cache (`cache: True`) stores single files only.
    """
    sidecars = {}
    for key, path in outputs.items():
        if key not in skip:
            sidecars.setdefault(str(scaledyn_provenance.sidecar(path)), f"{key}_prov")
    return {**outputs, **{key: path for path, key in sidecars.items()}}


def provenance(rule, *section, more=""):
    """Shell tail of a rule that uses with_provenance(), to write its sidecars from its inputs, `code` input and
    outputs.
    `rule`: the rule's name (a shell command's {rule} fails snakemake --lint; tests/test_provenance.py checks
    it against Snakemake's record); `section`: the names of the rule's params that carry the config values its
    command gets (recorded and hashed in each sidecar); `more`: further `--section NAME=VALUE` arguments,
    already quoted (a placeholder such as "{params.sections}")."""
    args = "".join(f" --section {name}={{params.{name}:q}}" for name in section)
    return (
        f" && python -m scaledyn.provenance --rule {rule}"
        + args
        + more
        + " --inputs {input} --code {input.code} --outputs {output} >> {log} 2>&1"
    )


def rule_source(name):
    """For the report's links: where rule `name` is defined and the code it runs beyond the command-line
    plumbing every job shares (its `code` input), relative to the repository root."""
    shared = set(code("cli"))
    return {
        "rule": name,
        "snakefile": str(
            Path(workflow.get_rule(name).snakefile).relative_to(workflow.basedir)
        ),
        "code": [f for f in getattr(rules, name).input.code if f not in shared],
    }


def report_sources(wildcards):
    """The rules behind each study's figures and claims (`<study>_figure`, `<study>_claims`; the report's own
    figures: claims_figure) and the claims table, for the report's links (scaledyn.report.context.links_of).
    """
    figures = [*STUDIES, "claims"]
    return as_json(
        {
            "figures": {name: rule_source(f"{name}_figure") for name in figures},
            "claims": {name: rule_source(f"{name}_claims") for name in STUDIES},
            "table": rule_source("claims_table"),
        }
    )


# What Snakemake's between-workflow output cache (`cache: True` rules, run with --cache and
# $SNAKEMAKE_OUTPUT_CACHE) must also hash: it hashes a rule's shell text, params, input files and (with
# --use-conda) its conda environment, but not the wildcards' values nor, without conda, the installed packages.
# The cached rules add these params, so a clone with other wildcards or another torch never gets their results.
CACHED = {
    "wildcards": lambda wildcards: as_json(dict(wildcards.items())),
    "software": as_json(
        {
            k: v
            for k, v in scaledyn_io.package_versions().items()
            if k in ("python", "torch", "numpy")
        }
    ),
}


def figure_inputs(study, folder):
    """Input function: the result tables a figure of FIGURES[study] draws, in results/<study>/."""
    return lambda wildcards: [
        f"{folder}/{t}.csv" for t in FIGURES[study][wildcards.fig].tables
    ]


def caption(study):
    """Input function: the caption of a figure, workflow/report/<study>/<figure>.rst, rendered with jinja2
    against the config (e.g. its CI level), as workflow/report/figure.rst shows it in snakemake --report.
    """

    def render(wildcards):
        path = Path(workflow.basedir, "workflow/report", study, f"{wildcards.fig}.rst")
        return jinja2.Template(path.read_text()).render(config=config)

    return render


def figure_files(folder, names):
    return expand(f"{folder}/{{fig}}.{{ext}}", fig=names, ext=("pdf", "png"))


# What each study hands to the report: its result tables, benchmark files and figures (filled by its .smk).
STUDY_FILES = {}
# What each study's analysis reads (filled by its .smk; the generated rules of study.smk take them as inputs).
STUDY_RUNS = {}


def run_files(runs, *patterns):
    """Input function: each pattern formatted with every run of `runs()` (wildcard values), called when the
    job is scheduled: after a checkpoint that decides which runs exist."""
    return lambda wildcards: [p.format(**run) for p in patterns for run in runs()]


def report_inputs(kind):
    """Input function: one kind of study file (results, benchmarks, figures) of every configured study (a
    list, or an input function of its own: files known only after a checkpoint)."""

    def files(wildcards):
        kinds = [STUDY_FILES[name][kind] for name in STUDIES]
        return [f for v in kinds for f in (v(wildcards) if callable(v) else v)]

    return files


# What the report adds of its own (report.smk): one claims table of every study and its figures.
CLAIMS_DIR = "results/claims"
CLAIMS_FIGS = "results/figures/claims"
CLAIMS_FIGURES = FIGURES["claims"]
REPORT_FIGURES = figure_files(CLAIMS_FIGS, CLAIMS_FIGURES)


def claims_files(wildcards):
    """Every configured study's claims.json, from its STUDY_FILES results."""
    return [
        f for f in report_inputs("results")(wildcards) if Path(f).name == "claims.json"
    ]


def every_figure(wildcards):
    """Input function: every study's figures and the report's own (the claims figures)."""
    return report_inputs("figures")(wildcards) + REPORT_FIGURES


def pdf_enabled():
    return config["report"]["pdf"] == "auto" and shutil.which("latexmk") is not None


def announce_pdf():
    if config["report"]["pdf"] == "auto" and not pdf_enabled():
        print(
            "NOTE: no TeX engine (latexmk) on PATH: the report stops at results/report/report.tex and "
            "report.pdf is skipped. To get the PDF install TeX, e.g. on Debian/Ubuntu:\n"
            "  sudo apt-get install texlive-latex-base texlive-latex-recommended lmodern latexmk poppler-utils\n"
            "then run snakemake again (or `make paper`).",
            file=sys.stderr,
        )


def all_targets():
    targets = every_figure(None)
    targets.append(
        "results/report/report.pdf" if pdf_enabled() else "results/report/report.tex"
    )
    return targets
