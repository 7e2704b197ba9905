"""Study 000: GSNR as an indicator of scale adaptation (shape x noise sweeps, paper 000).

``simulate`` runs one (shape, noise model, optimiser) job as a batched tensor program; ``classify``
holds the threshold classifier; ``analysis`` turns the per-job tables into the study's results (the
``analyse`` step); ``claims`` checks the paper's claims against them. CLI: ``python -m scaledyn.gsnr --help``.
"""

from scaledyn.config import invalid
from scaledyn.contract import Contract

# The command line's steps (``python -m scaledyn.gsnr <step>``): step -> the module whose ``main(argv)`` runs
# it, imported only when that step runs (a job's code is its step module's import closure).
STEPS = {"simulate": "simulate", "analyse": "analysis", "claims": "claims"}

# The tables of the analysis step (results/gsnr/<name>.csv): the one list, read by its rules and its CLI.
TABLES = ("runs", "summary", "classifier", "curves", "confusion", "gsnr_points")


def job_params(gsnr: dict, noise: str) -> dict:
    """The ``gsnr`` section narrowed to one simulation job: its noise model's sweep and the swept shapes,
    no optimiser list, no claim criteria (a job reruns only when what it computes changes)."""
    drop = {"noise_models", "sigma", "optimizers", "claims"}
    params = {k: v for k, v in gsnr.items() if k not in drop}
    params["sigma"] = {noise: gsnr["sigma"][noise]}
    params["shape_dims"] = {s: gsnr["shape_dims"][s] for s in gsnr["shapes"]}
    return params


def check(gsnr: dict, *, runs: bool) -> None:
    """Sweep ranges in order; with ``runs``, every swept shape defined."""
    for name, sigma in gsnr["sigma"].items():
        if sigma["max"] < sigma["min"]:
            raise invalid(f"gsnr.sigma.{name}", f"max ({sigma['max']}) is below min ({sigma['min']})")
    low, high = gsnr["claims"]["moderate_noise"]
    if high < low:
        raise invalid("gsnr.claims.moderate_noise", "[min, max] with max below min")
    unknown = [s for s in gsnr["shapes"] if s not in gsnr["shape_dims"]]
    if runs and unknown:
        defined = ", ".join(gsnr["shape_dims"])
        raise invalid("gsnr.shapes", f"{unknown} not defined in gsnr.shape_dims; defined: {defined}")


CONTRACT = Contract(
    name="gsnr",
    title="Study 000: GSNR",
    tables=TABLES,
    steps=STEPS,
    reads={"analyse": (), "claims": None},
    claims_tables=("runs",),
    job_params=job_params,
    check=check,
)
