# Shared helpers: config validation, the code-dependency helper, target lists.
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SRC = Path(workflow.basedir) / "src"
ENV = "../../environment.yml"  # the conda environment of every rule (with --use-conda)

# Jobs run `python` from the interpreter running Snakemake, on the package source beside this Snakefile.
shell.prefix(  # formatted by Snakemake like a shell command: literal braces are doubled
    f'export PATH="{Path(sys.executable).parent}:$PATH" '
    f'PYTHONPATH="{SRC}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; '
)


def _config_error(err):
    """One line naming the offending key and what the schema allows there."""
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    allowed = []
    if err.validator == "additionalProperties" and "properties" in err.schema:
        allowed.append("allowed keys: " + ", ".join(sorted(err.schema["properties"])))
    for key in (
        "enum",
        "minimum",
        "exclusiveMinimum",
        "maximum",
        "exclusiveMaximum",
        "minItems",
        "type",
    ):
        if key in err.schema:
            allowed.append(f"{key} {err.schema[key]}")
    if "description" in err.schema and err.absolute_path:
        allowed.append(err.schema["description"].strip())
    return f"Invalid config at '{where}': {err.message}. Allowed: " + "; ".join(allowed)


def config_error(message):
    """Stop before any job runs with one line naming the key and what is allowed (no traceback)."""
    print(f"Error in config: {message}", file=sys.stderr)
    sys.exit(1)


def _coerce_numbers(value, schema, root):
    """--config parses nested values as strings; turn them into numbers (or null) where the schema asks."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    kinds = schema.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if isinstance(value, str):
        if "null" in kinds and value in ("null", "None", "~"):
            return None
        for kind, cast in (("integer", int), ("number", float)):
            if kind in kinds:
                try:
                    return cast(value)
                except ValueError:
                    pass
        return value
    if isinstance(value, dict) and "object" in kinds:
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {
            k: _coerce_numbers(
                v, props.get(k, extra if isinstance(extra, dict) else {}), root
            )
            for k, v in value.items()
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce_numbers(v, schema["items"], root) for v in value]
    return value


def load_schema():
    """config.schema.yaml with its file references (one schema file per study section) spliced in."""
    folder = Path(workflow.basedir, "workflow/schemas")
    schema = yaml.safe_load((folder / "config.schema.yaml").read_text())
    for name, prop in schema["properties"].items():
        if prop.get("$ref", "").endswith(".yaml"):
            part = yaml.safe_load((folder / prop["$ref"]).read_text())
            schema["$defs"].update(
                part.pop("$defs", {})
            )  # its "#/$defs/..." refs now resolve at the root
            part.pop(
                "$schema", None
            )  # a nested $schema would switch jsonschema to a non-default-filling class
            schema["properties"][name] = part
    return schema


def validate_config(config):
    """Validate (and fill defaults) with snakemake.utils.validate; on failure, one clear message."""
    schema = load_schema()
    config.update(_coerce_numbers(dict(config), schema, schema))
    # Validate against the spliced schema: through a file $ref, jsonschema switches to the plain validator of
    # the referenced file's $schema and snakemake's default-filling stops at the study sections.
    with tempfile.NamedTemporaryFile("w", suffix=".schema.yaml") as spliced:
        yaml.safe_dump(schema, spliced)
        spliced.flush()
        try:
            validate(config, spliced.name)
        except WorkflowError:
            # snakemake's message dumps the whole sub-schema; name the key and what is allowed instead.
            errors = jsonschema.Draft202012Validator(schema).iter_errors(config)
            best = jsonschema.exceptions.best_match(errors)
            config_error(
                _config_error(best) if best else "config does not match the schema"
            )
    gsnr = config["gsnr"]
    unknown = [s for s in gsnr["shapes"] if s not in gsnr["shape_dims"]]
    if unknown:
        config_error(
            f"Invalid config at 'gsnr.shapes': {unknown} not defined in gsnr.shape_dims; "
            f"defined: {', '.join(gsnr['shape_dims'])}"
        )
    for name, sigma in gsnr["sigma"].items():
        if sigma["max"] < sigma["min"]:
            config_error(
                f"Invalid config at 'gsnr.sigma.{name}': max ({sigma['max']}) is below min ({sigma['min']})"
            )
    low, high = config["gsnr"]["claims"]["moderate_noise"]
    if high < low:
        config_error(
            "Invalid config at 'gsnr.claims.moderate_noise': [min, max] with max below min"
        )


validate_config(config)
STUDIES = config["studies"]


def code(*parts):
    """Source files of the package a job runs: every .py under src/scaledyn/<part> + shared modules.

    Snakemake's code trigger only sees a rule's own body, so rules list the package code they run as inputs.
    """
    root = SRC / "scaledyn"
    files = {root / m for m in ("__init__.py", "io.py", "seeding.py", "estimators.py")}
    for part in parts:
        path = root / part
        files |= set(path.rglob("*.py")) if path.is_dir() else {path.with_suffix(".py")}
    return sorted(str(f.relative_to(workflow.basedir)) for f in files)


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


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
    targets = [f for name in STUDIES for f in study_files(name)["figures"]]
    targets.append(
        "results/report/report.pdf" if pdf_enabled() else "results/report/report.tex"
    )
    return targets


# ---- study 000 (gsnr) -------------------------------------------------------------------------------------
GSNR = config["gsnr"]
GSNR_DIR = "results/gsnr"
GSNR_FIGS = "results/figures/gsnr"
GSNR_FIGURES = ("fig1_gsnr_vs_adaptation", "fig2_noise_sweep", "fig3_threshold")


def gsnr_job_params(wildcards):
    """The gsnr section narrowed to one job: its noise model's sweep, no optimiser list, no claim criteria."""
    drop = {"noise_models", "sigma", "optimizers", "claims"}
    params = {k: v for k, v in GSNR.items() if k not in drop}
    params["sigma"] = {wildcards.noise: GSNR["sigma"][wildcards.noise]}
    params["shape_dims"] = {s: GSNR["shape_dims"][s] for s in GSNR["shapes"]}
    return as_json(params)


def gsnr_runs():
    return expand(
        f"{GSNR_DIR}/runs/{{noise}}_{{optimizer}}.csv",
        noise=GSNR["noise_models"],
        optimizer=GSNR["optimizers"],
    )


def gsnr_figures():
    return expand(f"{GSNR_FIGS}/{{fig}}.{{ext}}", fig=GSNR_FIGURES, ext=("pdf", "png"))


# ---- study 001 (minimal_model) ---------------------------------------------------------------------------
MM = config["minimal_model"]
MM_DIR = "results/minimal_model"
MM_FIGS = "results/figures/minimal_model"
MM_SWEEPS = list(MM["sweeps"])
MM_TABLES = (
    "phase_means.csv",
    "runs.csv",
    "equilibrium.csv",
    "slopes.csv",
    "claims.json",
)


def mm_job_params(wildcards):
    """The minimal_model section narrowed to one sweep (no analysis or claim criteria)."""
    params = {k: v for k, v in MM.items() if k not in ("sweeps", "analysis", "claims")}
    params["sweeps"] = {wildcards.sweep: MM["sweeps"][wildcards.sweep]}
    return as_json(params)


def mm_figure_params():
    """What the figures read from the section (SNR draws, exponents, claim lines): not the sweeps."""
    return as_json({k: v for k, v in MM.items() if k not in ("sweeps", "compute")})


def mm_figures():
    return expand(
        f"{MM_FIGS}/{{fig}}.{{ext}}",
        fig=("fig1_dynamics", "fig2_batch", "fig3_weight_decay", "fig4_dimension"),
        ext=("pdf", "png"),
    )


# ---- study 002 (llm) -------------------------------------------------------------------------------------
LLM = config["llm"]
LLM_DIR = "results/llm"
LLM_FIGS = "results/figures/llm"
LLM_FIGURES = ("fig1_val_loss", "fig2_delta_vs_baseline", "fig3_gamma_trajectories")
LLM_RUN_FILES = ("metrics.csv", "gammas.csv", "linear_grads.csv", "summary.json")
LLM_TABLES = (
    "runs.csv",
    "curves.csv",
    "deltas.csv",
    "variants.csv",
    "gamma_traj.csv",
    "grads.csv",
    "claims.json",
)
# Keys only the DAG reads (which runs exist, the corpus, the device, claim criteria): not a run's params.
LLM_DAG_KEYS = {
    "corpus",
    "claims",
    "device",
    "variants",
    "run_sizes",
    "seeds",
    "sizes",
    "threads",
}


def validate_llm(llm):
    """Cross-key checks the schema cannot express, as one-line config errors."""
    unknown = [s for s in llm["run_sizes"] if s not in llm["sizes"]]
    if unknown:
        config_error(
            f"Invalid config at 'llm.run_sizes': {unknown} not defined in llm.sizes; "
            f"defined: {', '.join(llm['sizes'])}"
        )
    for name in llm["run_sizes"]:
        size = llm["sizes"][name]
        if (
            size["d_model"] % size["n_heads"]
            or (size["d_model"] // size["n_heads"]) % 2
        ):
            config_error(
                f"Invalid config at 'llm.sizes.{name}': d_model ({size['d_model']}) must be a multiple of "
                f"n_heads ({size['n_heads']}) with an even head width (rotary positions)"
            )
        if size.get("steps") is None and size.get("token_budget") is None:
            config_error(
                f"Invalid config at 'llm.sizes.{name}': set steps or token_budget"
            )
    if llm["arch"] == "prenorm" and "wd_output" in llm["variants"]:
        config_error(
            "Invalid config at 'llm.variants': wd_output decays Output-Norm gammas, which only "
            "arch: sandwich has; set llm.arch: sandwich or drop wd_output"
        )
    if llm["claims"]["reference"] not in llm["variants"]:
        config_error(
            f"Invalid config at 'llm.claims.reference': {llm['claims']['reference']!r} is not among "
            "llm.variants (every claim compares against it)"
        )


if "llm" in STUDIES:
    validate_llm(LLM)


# The wildcard values of every training run: (size, variant, seed).
LLM_RUNS = dict(
    size=LLM["run_sizes"], variant=LLM["variants"], seed=range(LLM["seeds"])
)


def llm_job_params(wildcards):
    """The llm section narrowed to what one run depends on: its size, no lists of runs, no criteria."""
    params = {k: v for k, v in LLM.items() if k not in LLM_DAG_KEYS}
    params["sizes"] = {wildcards.size: LLM["sizes"][wildcards.size]}
    return as_json(params)


def llm_run_files(name):
    """One file (summary.json, metrics.csv, ...) of every (size, variant, seed) run."""
    return expand(
        f"{LLM_DIR}/runs/{{size}}/{{variant}}/seed{{seed}}/{name}", **LLM_RUNS
    )


def llm_figures():
    return expand(f"{LLM_FIGS}/{{fig}}.{{ext}}", fig=LLM_FIGURES, ext=("pdf", "png"))


# ---- what each study hands to the report --------------------------------------------------------------------
def study_files(name):
    """Result tables the report context reads, benchmark files of its heavy rules, its figures."""
    if name == "gsnr":
        return {
            "results": [
                f"{GSNR_DIR}/{f}" for f in ("claims.json", "classifier.csv", "runs.csv")
            ],
            "benchmarks": expand(
                "results/benchmarks/gsnr_simulate/{noise}_{optimizer}.tsv",
                noise=GSNR["noise_models"],
                optimizer=GSNR["optimizers"],
            )
            + ["results/benchmarks/gsnr_aggregate/all.tsv"],
            "figures": gsnr_figures(),
        }
    if name == "llm":
        return {
            "results": [f"{LLM_DIR}/{f}" for f in LLM_TABLES]
            + [f"{LLM_DIR}/data/meta.json"],
            "benchmarks": expand(
                "results/benchmarks/llm_train/{size}_{variant}_seed{seed}.tsv",
                **LLM_RUNS,
            )
            + ["results/benchmarks/llm_analyse/all.tsv"],
            "figures": llm_figures(),
        }
    return {
        "results": [f"{MM_DIR}/{f}" for f in MM_TABLES],
        "benchmarks": expand(
            "results/benchmarks/minimal_model_simulate/{sweep}.tsv", sweep=MM_SWEEPS
        )
        + ["results/benchmarks/minimal_model_analyse/all.tsv"],
        "figures": mm_figures(),
    }


def report_inputs(kind):
    """Input function: one kind of study file (results, benchmarks, figures) of every configured study."""
    return lambda wildcards: [f for name in STUDIES for f in study_files(name)[kind]]
