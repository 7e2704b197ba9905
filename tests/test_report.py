"""Report rendering: escaping, number formatting, no verdict or number typed into the templates; the claims
table in the terminal (python -m scaledyn.report claims)."""

import contextlib
import io as io_lib
import json
import os
import re
from pathlib import Path

import pytest

from scaledyn import io
from scaledyn.report import __main__ as report_main
from scaledyn.report import claims_table, context, render
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, verdict
from tests.conftest import ROOT
from tests.conftest import claim_row as row


def test_tex_escaping():
    assert render.tex("50% of a_b & {c}") == r"50\% of a\_b \& \{c\}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.12345, "0.123"),
        (None, "n/a"),
        (float("nan"), "n/a"),
        (2.5e-5, r"\ensuremath{2.50\times 10^{-5}}"),
        (7, "7"),
        (1234.5, "1234"),
    ],
)
def test_number_format(value, text):
    assert render.num(value) == text


def test_templates_hold_no_measured_numbers():
    for path in (ROOT / "paper").glob("*.tex.j2"):
        text = path.read_text()
        body = re.sub(r"\\VAR\{[^}]*\}|\\BLOCK\{[^}]*\}|^%%.*$|^%#.*$", "", text, flags=re.M)
        # decimals in the body would be typed-in results (layout lengths like 0.42\textheight are allowed)
        body = re.sub(r"\d*\.?\d+(\\textheight|\\linewidth|cm)", "", body)
        assert not re.findall(r"\d+\.\d+", body), path


def test_verdict_rule():
    assert verdict(0.8, 0.9, 0.7, ">=") == SUPPORTED
    assert verdict(0.5, 0.6, 0.7, ">=") == NOT_SUPPORTED
    assert verdict(0.6, 0.8, 0.7, ">=") == INCONCLUSIVE
    assert verdict(0.0, 0.01, 0.02, "<=") == SUPPORTED
    assert verdict(float("nan"), 1.0, 0.5) == INCONCLUSIVE


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_gives_usual_permissions(tmp_path):
    io.write_json({"a": 1}, tmp_path / "x.json")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_templates_type_no_confidence_level_or_percentage():
    """Levels, percentages and criteria come from the context: outside \\VAR{}/\\BLOCK{} and statements, no
    template types a percentage or a confidence level (the numbers of formulas and layout stay)."""
    for path in sorted((ROOT / "paper").glob("*.tex.j2")):
        lines = [x for x in path.read_text().splitlines() if not x.lstrip().startswith(("%%", "%#"))]
        body = re.sub(r"\\(VAR|BLOCK)\{.*?\}", "", "\n".join(lines))
        typed = re.findall(r"\d+(?:\.\d+)?\s*\\%|\b0?\.9[05]\b|\b9[05]\b|\b99\b", body)
        assert typed == [], (path.name, typed)


# --- python -m scaledyn.report claims: the claims table in the terminal ---


@pytest.fixture
def results(tmp_path):
    """A results folder whose claims table has a long claim in paper 000 (two scopes) and one row of 001."""
    long_claim = "GSNR strongly correlates with scale adaptation across every shape and noise model"
    rho, p = {"criterion": "rho >= 0.7"}, {"p_value": 0.001}  # decided rows that survive Holm
    rows = [
        row(0.812, 0.74, 0.88, ">=", 0.7, SUPPORTED, "000", long_claim, scope="entry noise, sgd", **rho, **p),
        row(0.31, 0.05, 0.52, ">=", 0.7, INCONCLUSIVE, "000", long_claim, scope="total, adamw", **rho),
        row(-0.463, -0.49, -0.42, "<=", -1.5, NOT_SUPPORTED, scope="dimension sweep, late phase", **p)
        | {"criterion": "-2.5 <= slope <= -1.5"},
    ]
    claims_table.write(claims_table.table(rows, {}), tmp_path / "claims" / "claims.csv")
    return tmp_path


def claims_cli(*args: str) -> tuple[int, str, str]:
    out, err = io_lib.StringIO(), io_lib.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = report_main.main(["claims", *args])
    return code, out.getvalue(), err.getvalue()


def test_claims_prints_every_row_within_the_width(results):
    code, out, _ = claims_cli("--results", str(results), "--width", "110")
    assert code == 0
    assert max(map(len, out.splitlines())) <= 110
    assert "Paper 000 (2 rows)" in out and "Paper 001 (1 rows)" in out
    assert out.count("GSNR strongly") == 1  # a claim's text once, on its first row
    _, wide, _ = claims_cli("--results", str(results), "--width", "250")  # no cell wrapped
    for cells in (
        ("entry noise, sgd", "measure: 0.812 [0.74, 0.88]", "rho >= 0.7", "supported", "supported"),
        ("total, adamw", "measure: 0.31 [0.05, 0.52]", "rho >= 0.7", "inconclusive", "inconclusive"),
        ("measure: -0.463 [-0.49, -0.42]", "-2.5 <= slope <= -1.5", "not supported", "not supported"),
    ):
        assert re.search(r"\s{2,}".join(map(re.escape, cells)) + r"\s*$", wide, re.M), cells
    assert out.strip().endswith(
        "3 claims rows after adjustment: 1 supported, 1 not supported, 1 inconclusive"
    )
    _, narrow, _ = claims_cli("--results", str(results), "--width", "80")
    assert max(map(len, narrow.splitlines())) <= 80


@pytest.mark.parametrize("study", ["gsnr", "000", "0"])
def test_claims_of_one_study_by_name_or_paper(results, study):
    code, out, _ = claims_cli("--results", str(results), "--study", study)
    assert code == 0 and "Paper 000" in out and "Paper 001" not in out
    assert "3 claims rows" not in out and "2 claims rows" in out


def test_claims_without_the_table_or_with_an_unknown_study_is_one_error_line(tmp_path, results):
    code, out, err = claims_cli("--results", str(tmp_path / "none"))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert (
        err.startswith("Error: ") and "snakemake results/claims/claims.csv" in err and "claims_table" in err
    )
    code, _, err = claims_cli("--results", str(results), "--study", "paper9")
    assert code == 2 and err.startswith("Error: --study") and "gsnr" in err and "000, 001" in err


def test_make_claims_runs_the_command():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^claims:.*\n\t(.+)$", makefile, re.M)
    assert recipe and "-m scaledyn.report claims" in recipe[1]


def test_comparison_sets_the_lm_rows_beside_papers_000_and_001(tmp_path):
    """Study 002's C6 / C7 gaps join the comparison, words by the interval's side; one study alone: none."""

    def claims(study: str, rows: list[dict]) -> Path:
        folder = tmp_path / study
        folder.mkdir(exist_ok=True)
        (folder / "claims.json").write_text(json.dumps(rows))
        return folder

    gap = {"measure": "min log10 GSNR gap", "scope": "entry noise, any optimiser", "note": "n"}
    gsnr = claims("gsnr", [{**gap, "claim": "x", "value": 0.5, "ci_low": 0.2, "ci_high": 0.8}])
    lm = {"scope": "tiny, prenorm, baseline", "measure": "late log10 GSNR", "value": -0.3}
    llm = claims(
        "llm",
        [
            {**lm, "claim": "C6: matrices higher", "ci_low": -0.5, "ci_high": -0.1},
            {**lm, "claim": "C7: entries lower", "ci_low": -0.6, "ci_high": 0.1},
            {**lm, "claim": "C1: no_scale hurts", "ci_low": 0.1, "ci_high": 0.2},
        ],
    )
    rows = context.comparison({"gsnr": gsnr, "llm": llm}, {})
    assert [r["study"] for r in rows] == ["000", "002", "002"]
    assert [(r["matrix_higher"], r["matrix_lower"]) for r in rows] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert "paper 000's measure" in rows[1]["what"] and "paper 001's measure" in rows[2]["what"]
    assert context.comparison({"llm": llm}, {}) is None
