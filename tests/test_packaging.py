"""pyproject.toml and environment.yml list the same packages with the same lower bounds."""

import re
import tomllib

import yaml

from tests.conftest import ROOT

CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def parse(spec: str) -> tuple[str, str]:
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(>=\s*[\w.]+)?", spec.strip())
    assert m, f"unexpected requirement {spec!r}"
    return m[1].lower().replace("_", "-"), (m[2] or "").replace(" ", "")


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = [parse(s) for s in project["dependencies"] + project["optional-dependencies"]["test"]]
    expected = {CONDA_NAMES.get(name, name): bound for name, bound in pip}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(parse(s) for s in env["dependencies"] if isinstance(s, str) and s not in ("pip",))
    conda.pop("python")
    assert conda == expected


def test_required_packages_listed():
    deps = {
        parse(s)[0] for s in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    assert {"snakemake", "snakemake-executor-plugin-slurm", "torch", "numpy", "pandas", "matplotlib"} <= deps
    assert {"seaborn", "jinja2", "pygments"} <= deps
