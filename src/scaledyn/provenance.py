"""Provenance of each output: a ``<name>.prov.json`` sidecar beside it, written by the job that made it.

    python -m scaledyn.provenance --rule gsnr_figure --section estimate=exact \
        --inputs results/gsnr/summary.csv src/scaledyn/plots/gsnr.py ... --code src/scaledyn/plots/gsnr.py \
        --outputs results/figures/gsnr/fig2_noise_sweep.pdf results/figures/gsnr/fig2_noise_sweep.png \
                  results/figures/gsnr/fig2_noise_sweep.prov.json

Every rule that writes a figure or a results table runs this after its command and declares the sidecars as
outputs (``provenance`` and ``with_provenance`` in workflow/rules/common.smk). The sidecar of an output
``<dir>/<name>.<ext>`` is ``<dir>/<name>.prov.json`` (:func:`sidecar`), so the outputs of one job that share a
name (a figure's PDF and PNG; claims.csv and claims.json) share one. One sidecar is written for each
``.prov.json`` among ``--outputs``; it describes the other outputs whose sidecar it is (a benchmark file
without a declared sidecar is not described). Fields:

- ``rule``: the Snakemake rule;
- ``commit``: the git checkout of the code that ran (:func:`scaledyn.io.git_commit` of this package's
  folder, ``-dirty`` with uncommitted changes). Recorded, no rule parameter: a new commit reruns nothing;
- ``config``: the config values the rule passes its command (``--section NAME=VALUE``; VALUE is read as JSON,
  as the rules' ``as_json`` params are, else kept as a string) and ``config_hash``,
  :func:`scaledyn.io.config_hash` of them: it changes exactly when one of them changes;
- ``inputs``, ``code``, ``outputs``: path -> SHA-256 of each input file that is not code, of each code file
  the job ran (the rule's ``code`` input) and of each output described;
- ``versions``: :func:`scaledyn.io.package_versions`; ``created``: when the sidecar was written (UTC).

An output fetched from Snakemake's between-workflow cache (``cache: True`` rules) comes with the sidecar of
the run that computed it: its commit and time are that run's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from scaledyn import io

SUFFIX = ".prov.json"


def sidecar(path: str | Path) -> Path:
    """The sidecar of an output: ``<dir>/<name>.<ext>`` -> ``<dir>/<name>.prov.json``."""
    path = Path(path)
    return path.with_name(path.stem + SUFFIX)


def sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def digests(paths: Iterable[str | Path]) -> dict[str, str]:
    """path -> SHA-256 of each file, in path order."""
    return {str(p): sha256(p) for p in sorted(set(map(str, paths)))}


def parse_section(items: Iterable[str]) -> dict[str, object]:
    """``NAME=VALUE`` pairs -> {NAME: VALUE as JSON, else the string}."""
    section = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--section {item!r} is not NAME=VALUE")
        try:
            section[name] = json.loads(value)
        except json.JSONDecodeError:
            section[name] = value
    return section


def record(
    rule: str,
    section: Mapping[str, object],
    inputs: Iterable[str | Path],
    code: Iterable[str | Path],
    outputs: Iterable[str | Path],
) -> dict:
    """The provenance of ``outputs`` (module docstring); ``inputs`` may include the ``code`` files."""
    code = {str(c) for c in code}
    return {
        "rule": rule,
        "commit": io.git_commit(Path(__file__).parent),
        "config": dict(section),
        "config_hash": io.config_hash(dict(section)),
        "inputs": digests(p for p in map(str, inputs) if p not in code),
        "code": digests(code),
        "outputs": digests(outputs),
        "versions": io.package_versions(),
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_sidecars(
    rule: str,
    section: Mapping[str, object],
    inputs: Iterable[str | Path],
    code: Iterable[str | Path],
    outputs: Iterable[str | Path],
) -> list[Path]:
    """Write each ``.prov.json`` of ``outputs``, describing the other outputs whose sidecar it is."""
    outputs = [Path(p) for p in outputs]
    sidecars = [p for p in outputs if p.name.endswith(SUFFIX)]
    job = record(rule, section, inputs, code, [])  # inputs and code hashed once for all of the job's sidecars
    for path in sidecars:
        described = [p for p in outputs if p not in sidecars and sidecar(p) == path]
        if not described:
            raise ValueError(f"sidecar {path} describes no output (outputs <name>.<ext> beside it)")
        io.write_json({**job, "outputs": digests(described)}, path)
    return sidecars


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.provenance", description=__doc__.split("\n")[0])
    parser.add_argument("--rule", required=True, help="the Snakemake rule that made the outputs")
    parser.add_argument("--section", action="append", default=[], help="NAME=VALUE: a config value it passes")
    parser.add_argument(
        "--inputs", nargs="*", default=[], help="the job's input files (code may be among them)"
    )
    parser.add_argument("--code", nargs="*", default=[], help="the package code files the job ran")
    parser.add_argument("--outputs", nargs="+", required=True, help="the job's outputs, sidecars among them")
    args = parser.parse_args(argv)
    try:
        write_sidecars(args.rule, parse_section(args.section), args.inputs, args.code, args.outputs)
    except (OSError, ValueError) as exc:  # a missing input or output, a malformed --section: one line
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
