"""Study 000: GSNR as an indicator of scale adaptation (shape x noise sweeps, paper 000).

``simulate`` runs one (shape, noise model, optimiser) job as a batched tensor program; ``classify``
holds the threshold classifier; ``analysis`` turns the per-job tables into the study's results (the
``analyse`` step); ``claims`` checks the paper's claims against them. CLI: ``python -m scaledyn.gsnr --help``.
"""

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
