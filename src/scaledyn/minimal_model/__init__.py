"""Study 001: a minimal model L(W, gamma) = 1/(2N) sum ||gamma * (W x) - y||^2 trained with AdamW.

``model`` holds the data, the batched gradient and the SNR measurement; ``simulate`` runs one sweep
(``dynamics``, ``batch``, ``weight_decay``, ``dimension``) as a batched tensor program; ``analysis`` turns the
tidy trajectories into derived tables; ``claims`` checks the paper's five claims. Defaults: the
``minimal_model`` section of the schema (:mod:`scaledyn.config`).
CLI: ``python -m scaledyn.minimal_model --help``.
"""

from scaledyn.contract import Contract

# The command line's steps (``python -m scaledyn.minimal_model <step>``): step -> the module whose
# ``main(argv)`` runs it, imported only when that step runs (a job's code: its step module's import closure).
STEPS = {"simulate": "simulate", "analyse": "analysis", "claims": "claims"}

# The tables of the analysis step (results/minimal_model/<name>.csv): the one list (its rules, its CLI).
TABLES = ("phase_means", "runs", "equilibrium", "slopes", "dynamics_bands", "sweep_bands", "figure_guides")


def job_params(section: dict, sweep: str) -> dict:
    """The ``minimal_model`` section narrowed to one sweep's simulation (no other sweep, no analysis or
    claim criteria): a job reruns only when what it computes changes."""
    params = {k: v for k, v in section.items() if k not in ("sweeps", "analysis", "claims")}
    params["sweeps"] = {sweep: section["sweeps"][sweep]}
    return params


CONTRACT = Contract(
    name="minimal_model",
    title="Study 001: minimal model",
    tables=TABLES,
    steps=STEPS,
    reads={"analyse": None, "claims": None},
    claims_tables=None,
    job_params=job_params,
)
