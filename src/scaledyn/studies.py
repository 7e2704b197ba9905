"""The studies of the pipeline: each one's contract (:mod:`scaledyn.contract`) and config check.

:mod:`scaledyn.config` validates against the schema and imports no study; the cross-key rules the schema
cannot express are each study's own ``check(section, *, runs)`` (``scaledyn.gsnr.check``,
``scaledyn.llm.check``), gathered here. :func:`load` is what the DAG and the benchmarks call on a whole
config; a study's CLI passes its own check to :func:`scaledyn.config.section` / :func:`scaledyn.config.read`.
"""

from __future__ import annotations

from scaledyn import config, gsnr, llm, minimal_model

# study -> what it declares to the pipeline (scaledyn.contract.Contract), in the report's order
CONTRACTS = {c.name: c for c in (gsnr.CONTRACT, minimal_model.CONTRACT, llm.CONTRACT)}

# section -> its cross-key check (a study without one has no entry)
CHECKS: dict[str, config.Check] = {n: c.check for n, c in CONTRACTS.items() if c.check is not None}


def load(given: config.Config) -> config.Config:
    """A whole config validated, completed by the schema's defaults and checked by every study's rules."""
    return config.load(given, CHECKS)


def section(name: str, given: config.Config | None = None) -> config.Config:
    """Section ``name`` from the part ``given``, completed and checked by its study's rules (no run lists)."""
    return config.section(name, given, CHECKS.get(name))
