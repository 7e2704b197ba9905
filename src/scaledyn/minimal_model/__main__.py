"""Command line of study 001 (the minimal model), called by workflow/rules/minimal_model.smk.

    python -m scaledyn.minimal_model simulate --sweep NAME --params SECTION --global-seed N --out F.csv
    python -m scaledyn.minimal_model analyse --inputs SWEEP.csv ... --params SECTION --stats STATS --out-dir D
    python -m scaledyn.minimal_model claims --inputs SWEEP.csv ... --params SECTION --stats STATS --out F.json

``SECTION`` is the ``minimal_model`` config section and ``STATS`` the ``stats`` section, each inline JSON or a
JSON / YAML file, completed by the schema's defaults (:mod:`scaledyn.config`). ``analyse`` writes its
tables atomically (``scaledyn.io``: temporary file, then rename).
"""

from __future__ import annotations

import sys

from scaledyn import cli
from scaledyn.minimal_model import STEPS


def main(argv: list[str] | None = None) -> int:
    return cli.dispatch(
        "python -m scaledyn.minimal_model", __doc__, cli.steps("scaledyn.minimal_model", STEPS), argv
    )


if __name__ == "__main__":
    sys.exit(main())
