"""Run a command and record its wall time and peak memory in a benchmark file of its own.

    python -m scaledyn.timed --out results/benchmarks/<rule>/<job>.tsv -- python -m scaledyn.gsnr simulate ...

Snakemake's ``benchmark:`` directive cannot be combined with its between-workflow output cache (``cache:``):
a result fetched from the cache has no run to time. The cached simulation rules therefore write this file as
a declared output beside their result, so the cache keeps it with the result, and the report's wall-time
table (``scaledyn.report.context.wall_times``) reads the time the result took to compute, wherever that was.
Columns as in Snakemake's benchmark files: ``s``, ``h:m:s``, ``max_rss`` (MB, the command's peak resident
memory), ``cpu_time`` (s). The command's exit status is returned; the file is written only on success.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import time

from scaledyn.io import atomic_path

KB_PER_RSS_UNIT = 1 / 1024 if sys.platform == "darwin" else 1  # ru_maxrss: bytes on macOS, KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.timed")
    parser.add_argument("--out", required=True, help="the benchmark file (TSV) to write")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (python -m scaledyn.timed --out F.tsv -- COMMAND ...)")
    start = time.perf_counter()
    code = subprocess.call(command)
    seconds = time.perf_counter() - start
    if code != 0:
        return code
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    max_rss_mb = usage.ru_maxrss * KB_PER_RSS_UNIT / 1024
    with atomic_path(args.out) as tmp:
        tmp.write_text(
            "s\th:m:s\tmax_rss\tcpu_time\n"
            f"{seconds:.4f}\t{dt.timedelta(seconds=round(seconds))}\t{max_rss_mb:.2f}\t"
            f"{usage.ru_utime + usage.ru_stime:.2f}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
