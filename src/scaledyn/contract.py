"""What a study declares to the pipeline (its package's ``CONTRACT``), from which ``workflow/rules/study.smk``
generates the study's analyse, claims and figure rules and :mod:`scaledyn.studies` gathers its config check.

A study is a package ``scaledyn.<name>`` with a command line ``python -m scaledyn.<name> <step>`` (``steps``:
``analyse`` and ``claims`` at least, each step a module with ``main(argv)``), a schema section ``<name>``, a
report partial with its context from the package's ``report`` module, and a rules file
``workflow/rules/<name>.smk`` registering the files its analysis reads (with, if it simulates or trains, the
one hand-written rule that makes them). Its figures are declared with the drawing code
(:data:`scaledyn.plots.FIGURES`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Contract:
    name: str  # the config section, results/<name>/ and the CLI package scaledyn.<name>
    title: str  # the report's category of its figures
    tables: tuple[str, ...]  # the analyse step's tables, results/<name>/<table>.csv
    steps: dict[str, str]  # CLI step -> module of the package whose main(argv) runs it
    # keys of the section each generated step gets as --params (None: the whole section; (): no --params):
    # a rule's params are what its step reads, so changing another key reruns nothing
    reads: dict[str, tuple[str, ...] | None]
    # the analysis tables the claims step reads; None: the files the analysis reads (the runs themselves)
    claims_tables: tuple[str, ...] | None
    # one simulation or training job's part of the section (what its rule hashes as params)
    job_params: Callable[..., dict[str, Any]] | None = None
    # the section's cross-key rules: check(section, *, runs) raises scaledyn.config.ConfigError
    check: Callable[..., None] | None = None
    # module of the package whose section(results, config) is the study's part of the report's context
    report: str = "report"
