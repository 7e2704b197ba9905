"""The cross-study comparison of the report (scaledyn.report.context.comparison): it reads the rows that
decide each study's claims, the decision estimate of study 001 and no practitioner row."""

import json
from pathlib import Path

import pandas as pd
import pytest

from scaledyn.report import context


def write_claims(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "claims.json").write_text(json.dumps(rows))
    return folder


def equilibrium(folder: Path) -> Path:
    """Study 001's equilibrium table: the exact SNR ratio above 1, the floored K-draw ratio near 1."""
    folder.mkdir(exist_ok=True)
    rows = [
        ("snr_ratio", 1.1, 0.9, 1.3),
        ("snr_exact_ratio", 40.0, 30.0, 50.0),
        ("w_rms", 0.1, 0.09, 0.11),
    ]
    pd.DataFrame(
        [{"sweep": "dynamics", "metric": m, "mean": v, "ci_low": lo, "ci_high": hi} for m, v, lo, hi in rows]
    ).to_csv(folder / "equilibrium.csv", index=False)
    return folder


@pytest.mark.parametrize(("estimate", "value"), [("exact", 40.0), ("sampled", 1.1)])
def test_study_001_row_is_the_decision_estimate(tmp_path, estimate, value):
    gap = {"measure": "min log10 GSNR gap", "scope": "entry noise, any optimiser", "note": "n", "claim": "x"}
    gsnr = write_claims(
        tmp_path / "gsnr",
        [
            {**gap, "value": 0.5, "ci_low": 0.2, "ci_high": 0.8, "role": "claim"},
            {**gap, "value": 0.0, "ci_low": -0.1, "ci_high": 0.1, "role": "practitioner"},  # never compared
        ],
    )
    config = {"minimal_model": {"claims": {"snr_estimate": estimate}}}
    rows = context.comparison({"gsnr": gsnr, "minimal_model": equilibrium(tmp_path / "mm")}, config)
    assert [r["study"] for r in rows] == ["000", "001"]
    assert rows[1]["value"] == value and f"({estimate} SNR)" in rows[1]["what"]
    assert rows[1]["matrix_lower"] == (estimate == "exact")  # the floored ratio's interval holds 1


def test_study_001_defaults_to_the_schema_decision_estimate(tmp_path):
    gsnr = write_claims(
        tmp_path / "gsnr",
        [
            {
                "measure": "min log10 GSNR gap",
                "scope": "total noise, any optimiser",
                "note": "n",
                "claim": "x",
                "value": 0.7,
                "ci_low": 0.5,
                "ci_high": 0.9,
            }
        ],
    )
    rows = context.comparison({"gsnr": gsnr, "minimal_model": equilibrium(tmp_path / "mm")}, {})
    assert rows[1]["value"] == 40.0  # the schema's claims.snr_estimate: exact
