# Shared helpers: config validation, the code-dependency helper, target lists.
import json
import os
import shutil
import sys
from pathlib import Path

import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

PY = sys.executable  # the interpreter running Snakemake also runs every job
SRC = Path(workflow.basedir) / "src"
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p
)
SCHEMA = "../schemas/config.schema.yaml"


def _config_error(err):
    """One line naming the offending key and what the schema allows there."""
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    allowed = []
    if err.validator == "additionalProperties" and "properties" in err.schema:
        allowed.append("allowed keys: " + ", ".join(sorted(err.schema["properties"])))
    for key in ("enum", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minItems", "type"):
        if key in err.schema:
            allowed.append(f"{key} {err.schema[key]}")
    if "description" in err.schema:
        allowed.append(err.schema["description"].strip())
    return f"Invalid config at '{where}': {err.message}. " + "; ".join(allowed)


def validate_config(config):
    """Validate (and fill defaults) with snakemake.utils.validate; re-raise as one clear message."""
    try:
        validate(config, SCHEMA)
    except WorkflowError as exc:
        cause = next(
            (a for a in exc.args if isinstance(a, jsonschema.ValidationError)), None
        )
        if cause is None:
            raise
        best = jsonschema.exceptions.best_match([cause] + list(cause.context or []))
        raise WorkflowError(_config_error(best)) from None
    for name, model in config["gsnr"]["noise_models"].items():
        if model["sigma"]["max"] < model["sigma"]["min"]:
            raise WorkflowError(
                f"Invalid config at 'gsnr.noise_models.{name}.sigma': max "
                f"({model['sigma']['max']}) is below min ({model['sigma']['min']})"
            )
    low, high = config["gsnr"]["claims"]["moderate_noise"]
    if high < low:
        raise WorkflowError(
            "Invalid config at 'gsnr.claims.moderate_noise': [min, max] with max below min"
        )


validate_config(config)
STUDIES = config["studies"]


def code(*parts):
    """Source files a rule depends on: every .py under src/scaledyn/<part> (dir or module) + shared modules.

    Snakemake's code trigger only sees a rule's own body, so rules list the package code they run as inputs.
    """
    root = SRC / "scaledyn"
    files = {root / m for m in ("__init__.py", "io.py", "seeding.py", "stats.py", "estimators.py")}
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
    targets = []
    if "gsnr" in STUDIES:
        targets += gsnr_figures()
    targets.append(
        "results/report/report.pdf" if pdf_enabled() else "results/report/report.tex"
    )
    return targets
