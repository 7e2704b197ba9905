"""Command line of study 002 (scale vectors in small language models), called by workflow/rules/llm.smk.

    python -m scaledyn.llm data --source shakespeare --out-dir D [--val-works ...] [--cache-dir C]
    python -m scaledyn.llm train --arch A --variant V --size S --seed N --global-seed G --params SECTION \\
        --data D --out D --ckpt D [--device auto|cpu|cuda] [--threads N]
    python -m scaledyn.llm analyse --inputs R/summary.json ... --params SECTION --stats STATS --out-dir D
    python -m scaledyn.llm claims --inputs TABLE.csv ... --params SECTION --stats STATS --out claims.json

``SECTION`` is the ``llm`` config section and ``STATS`` the ``stats`` section, each inline JSON or a JSON /
YAML file, completed by the schema's defaults (:mod:`scaledyn.config`). Each step's own arguments: ``--help``.
"""

from __future__ import annotations

import sys

from scaledyn import cli
from scaledyn.llm import STEPS


def main(argv: list[str] | None = None) -> int:
    return cli.dispatch("python -m scaledyn.llm", __doc__, cli.steps("scaledyn.llm", STEPS), argv)


if __name__ == "__main__":
    sys.exit(main())
