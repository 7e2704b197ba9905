"""Report rendering: escaping, number formatting, and no verdict or number typed into the templates."""

import os
import re

import pytest

from scaledyn import io
from scaledyn.report import render
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, verdict
from tests.conftest import ROOT


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
