"""Study 002's GPU configs on paper: memory and time per size, computed (no GPU needed).

    python benchmarks/gpu_plan.py [--configfile config/gpu.yaml] [--mfu 0.35] [--gpu-memory-gib 80] \
        [--reserve 0.1] [--out-dir benchmarks/results] [--write-config]

For each trained size of the config (``llm.run_sizes``) and each of its arms: parameters, training FLOPs per
token (``6 N_matmul + 12 L d T``, :meth:`Transformer.flop_per_token`), the run's steps and tokens; memory at
the configured micro-batch from :func:`scaledyn.llm.memory.plan` (state ``16 N`` + saved activations counted
under FakeTensorMode, eager bf16: an upper bound for a compiled step) and the largest micro-batch whose state
and activations fit ``(1 - reserve)`` of the GPU's memory (the reserve covers the CUDA context, workspaces,
the backward's activation gradients and allocator slack); the tokens/s one GPU gives at the assumed MFU
(``mfu * peak_flops.cuda / flop_per_token``) and the GPU-hours of every run (training only: evaluation,
compilation and start-up not counted). MFU, memory and reserve are assumptions, stated in the output; the
device check (``benchmarks/gpu_check.py``) measures MFU and peak memory on a lent GPU.

Writes ``gpu_plan.json`` and ``gpu_plan.txt`` under ``--out-dir``; ``--write-config`` also replaces the
computed block of the config's comments (between :data:`BEGIN` and :data:`END`), which a test keeps equal
to this script's output, so the config's numbers are never typed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scaledyn import studies  # noqa: E402
from scaledyn.llm import arms_of, memory, run_config  # noqa: E402
from scaledyn.llm.model import Transformer  # noqa: E402
from scaledyn.llm.variants import VARIANTS  # noqa: E402

BEGIN = (
    "# -- computed by benchmarks/gpu_plan.py (do not edit: python benchmarks/gpu_plan.py --write-config) --"
)
END = "# -- end of computed block --"
GIB = 2**30
VOCAB = 256  # byte-level corpus (padded to llm.model.pad_vocab_to by the model config)


def load(path: Path) -> dict[str, Any]:
    """The config's validated ``llm`` section (the schema's defaults under the file)."""
    return studies.load(yaml.safe_load(path.read_text()))["llm"]


def arm_plan(llm: dict[str, Any], size: str, arch: str, variant: str, capacity: float, mfu: float) -> dict:
    """One arm of ``size``: shape, FLOPs, tokens, memory at its micro-batch, tokens/s and hours at ``mfu``."""
    entry = llm["sizes"][size]
    cfg = run_config.model_config(llm, size, VOCAB, arch)
    flags = VARIANTS[variant]
    with torch.device("meta"):
        flop_per_token = Transformer(cfg, flags).flop_per_token()
    steps = run_config.total_steps(entry)
    micro = entry["micro_batch_size"] or entry["batch_size"]
    tokens = steps * entry["batch_size"] * entry["context"]
    tps = mfu * float(llm["peak_flops"]["cuda"]) / flop_per_token
    mem = memory.plan(cfg, flags, micro, capacity)
    return {"size": size, "arch": arch, "variant": variant, "steps": steps, "batch_size": entry["batch_size"],
            "micro_batch_size": micro, "context": entry["context"], "tokens": tokens,
            "flop_per_token": flop_per_token, "tokens_per_s": tps, "hours": tokens / tps / 3600,
            **mem}  # fmt: skip


def compute(llm: dict[str, Any], mfu: float, gpu_memory_gib: float, reserve: float) -> dict[str, Any]:
    """Every arm of every trained size, and per size the totals over arms x seeds."""
    capacity = gpu_memory_gib * GIB * (1 - reserve)
    arms = [
        arm_plan(llm, size, arch, variant, capacity, mfu)
        for size in llm["run_sizes"]
        for arch, variants in arms_of(llm, size).items()
        for variant in variants
    ]
    sizes = {}
    for size in llm["run_sizes"]:
        rows = [a for a in arms if a["size"] == size]
        worst = max(rows, key=lambda a: a["total_bytes"])
        sizes[size] = {
            "runs": len(rows) * llm["seeds"],
            "gpu_hours": llm["seeds"] * sum(a["hours"] for a in rows),
            "costliest_arm": f"{worst['arch']}/{worst['variant']}",
            "max_total_bytes": worst["total_bytes"],
            "min_max_micro_batch": min(a["max_micro_batch"] for a in rows),
        }
    assumptions = {"mfu": mfu, "gpu_memory_gib": gpu_memory_gib, "reserve": reserve,
                   "capacity_bytes": capacity, "peak_flops_cuda": float(llm["peak_flops"]["cuda"]),
                   "seeds": llm["seeds"]}  # fmt: skip
    return {"assumptions": assumptions, "sizes": sizes, "arms": arms}


def table(plan: dict[str, Any]) -> list[str]:
    """The plan as text lines (the config's comment block without its ``#``)."""
    a = plan["assumptions"]
    lines = [
        f"Assumed: {a['mfu']:.0%} MFU of {a['peak_flops_cuda'] / 1e12:.0f} TFLOP/s (peak_flops.cuda), "
        f"{a['gpu_memory_gib']:.0f} GiB less {a['reserve']:.0%} reserve;",
        "activations of the eager bf16 step (a compiled step saves less). GiB = 2^30 bytes.",
        f"{'size':8s} {'arm':19s} {'params':>7s} {'steps':>5s} {'micro':>5s} {'state':>6s} {'activ.':>7s} "
        f"{'total':>7s} {'max micro':>9s} {'tok/s':>9s} {'h/run':>5s}",
    ]
    for r in plan["arms"]:
        arm, gib = f"{r['arch']}/{r['variant']}", {k: r[k] / GIB for k in ("state_bytes", "activation_bytes")}
        lines.append(
            f"{r['size']:8s} {arm:19s} {r['n_params'] / 1e6:6.1f}M {r['steps']:5d} "
            f"{r['micro_batch_size']:5d} "
            f"{gib['state_bytes']:4.1f}Gi {gib['activation_bytes']:5.1f}Gi {r['total_bytes'] / GIB:5.1f}Gi "
            f"{r['max_micro_batch']:9d} {r['tokens_per_s']:9,.0f} {r['hours']:5.2f}"
        )
    for size, s in plan["sizes"].items():
        lines.append(
            f"{size}: {s['runs']} runs, {s['gpu_hours']:.1f} GPU-hours of training; costliest arm "
            f"{s['costliest_arm']} {s['max_total_bytes'] / GIB:.1f} GiB;"
        )
        lines.append(f"  the largest micro-batch that fits for every arm: {s['min_max_micro_batch']}")
    total = sum(s["gpu_hours"] for s in plan["sizes"].values())
    lines.append(f"all sizes: {total:.1f} GPU-hours of training at the assumed MFU")
    return lines


def comment_block(plan: dict[str, Any]) -> str:
    return "\n".join([BEGIN, *(f"# {line}" for line in table(plan)), END]) + "\n"


def replace_block(text: str, block: str) -> str:
    """``text`` with its computed block replaced by ``block`` (appended to the leading comments if absent)."""
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        return head + block + rest.split(END + "\n", 1)[1]
    lines = text.splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return "".join(lines[:n]) + block + "".join(lines[n:])


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configfile", default=str(ROOT / "config/gpu.yaml"))
    parser.add_argument("--mfu", type=float, default=0.35, help="assumed model FLOPs utilisation")
    parser.add_argument("--gpu-memory-gib", type=float, default=80.0, help="memory of one GPU (H100: 80)")
    parser.add_argument("--reserve", type=float, default=0.1, help="share kept for transients and slack")
    parser.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--write-config", action="store_true", help="rewrite the config's computed block")
    return parser


def plan_of(args: argparse.Namespace) -> dict[str, Any]:
    """The plan of ``args`` (the parsed command line)."""
    return compute(load(Path(args.configfile)), args.mfu, args.gpu_memory_gib, args.reserve)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path, plan = Path(args.configfile), plan_of(args)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_plan.json").write_text(json.dumps({"config": path.name, **plan}, indent=2) + "\n")
    (out / "gpu_plan.txt").write_text("\n".join(table(plan)) + "\n")
    print("\n".join(table(plan)))
    if args.write_config:
        path.write_text(replace_block(path.read_text(), comment_block(plan)))
        print(f"-> {path} (computed block)")
    print(f"-> {out / 'gpu_plan.json'}, {out / 'gpu_plan.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
