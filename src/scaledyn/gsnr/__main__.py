"""Command line of study 000 (GSNR as an indicator of scale adaptation), called by workflow/rules/gsnr.smk.

    python -m scaledyn.gsnr simulate --noise N --optimizer O --params SECTION --global-seed G --out F
    python -m scaledyn.gsnr analyse --inputs F [F ...] --stats STATS --out-dir D
    python -m scaledyn.gsnr claims --inputs runs.csv --params SECTION --stats STATS --out claims.json

``SECTION`` is the ``gsnr`` config section and ``STATS`` the ``stats`` section, each inline JSON or a JSON /
YAML file, completed by the schema's defaults (:mod:`scaledyn.config`).
"""

from __future__ import annotations

import sys

from scaledyn import cli
from scaledyn.gsnr import STEPS


def main(argv: list[str] | None = None) -> int:
    return cli.dispatch("python -m scaledyn.gsnr", __doc__, cli.steps("scaledyn.gsnr", STEPS), argv)


if __name__ == "__main__":
    sys.exit(main())
