"""The claims table of every study: criteria parsed, p-values, Holm, MDE, flip points, seeds needed, CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from scaledyn.report import __main__ as report_cli
from scaledyn.report import claims_table as ct
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, t_mean_ci, verdict

STRENGTH = {INCONCLUSIVE: 0, SUPPORTED: 1, NOT_SUPPORTED: 1}


def row(value, low, high, criterion, verdict_, study="001", claim="C1: a claim", **extra):
    return {
        "study": study,
        "claim": claim,
        "scope": "scope",
        "measure": "measure",
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "criterion": criterion,
        "verdict": verdict_,
        "note": "",
        **extra,
    }


@pytest.mark.parametrize(
    ("text", "constraints"),
    [
        ("rho >= 0.7", [(">=", 0.7)]),
        (">= 5", [(">=", 5.0)]),
        ("<= 0.5", [("<=", 0.5)]),
        ("diff < -0", [("<", 0.0)]),
        ("gap > 1e-3", [(">", 1e-3)]),
        ("final val loss, a - b < -0.01", [("<", -0.01)]),
        ("0.75 <= slope <= 1.25", [(">=", 0.75), ("<=", 1.25)]),
        ("-2.5 <= slope <= -1.5", [(">=", -2.5), ("<=", -1.5)]),
        ("-", []),
        ("", []),
        (None, []),
    ],
)
def test_parse_criterion(text, constraints):
    assert ct.parse_criterion(text) == constraints


def test_fields_win_over_the_criterion_text_and_two_sided_picks_the_nearer_bound():
    assert ct.criterion_of(row(1, 0, 2, "something else", SUPPORTED, direction="<=", threshold=3))[:2] == (
        "<=",
        3.0,
    )
    assert ct.criterion_of(row(-0.9, -1.2, -0.6, "-2.5 <= slope <= -1", INCONCLUSIVE))[:2] == (
        "between",
        -1.0,
    )
    assert ct.criterion_of(row(-2.4, -2.6, -2.2, "-2.5 <= slope <= -1", INCONCLUSIVE))[:2] == (
        "between",
        -2.5,
    )
    direction, thr, constraints = ct.criterion_of(row(1, 0, 2, "-", INCONCLUSIVE))
    assert direction == "" and math.isnan(thr) and constraints == []


def test_holm_textbook_example():
    """Four p-values at alpha 0.05: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03 rejected; 0.03 * 2 = 0.06 stops."""
    rejected, adjusted = ct.holm([0.01, 0.04, 0.03, 0.005], 0.05)
    assert rejected.tolist() == [True, False, False, True]
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    rejected, adjusted = ct.holm([], 0.05)
    assert rejected.size == adjusted.size == 0


def test_p_value_and_mde_of_a_t_interval_match_the_one_sample_t_test():
    values = np.array([0.31, 0.12, 0.45, 0.28, 0.19])
    est, low, high = t_mean_ci(values, level=0.95)
    for threshold in (0.0, 0.1, 0.3, 0.5):
        p = ct.p_value(est, low, high, threshold, 0.95, values.size)
        assert p == pytest.approx(scipy.stats.ttest_1samp(values, threshold).pvalue, rel=1e-9)
    df = ct.table([row(est, low, high, ">= 0.1", verdict(low, high, 0.1), n_seeds=5, level=0.95)])
    sd_over_sqrt_n = values.std(ddof=1) / np.sqrt(values.size)
    assert df["mde"].iloc[0] == pytest.approx(scipy.stats.t.ppf(0.975, 4) * sd_over_sqrt_n)
    # no seed count: normal quantiles (a bound at the threshold: p = 1 - level)
    assert ct.p_value(1.96, 0.0, 3.92, 0.0, 0.95, float("nan")) == pytest.approx(0.05, abs=1e-4)
    assert math.isnan(ct.p_value(1.0, float("nan"), 2.0, 0.0, 0.95, 3))
    # zero width (no sampling error): no test, so the row stays outside Holm with its raw verdict
    assert math.isnan(ct.p_value(0.3, 0.3, 0.3, 0.1, 0.95, 3))
    assert math.isnan(ct.p_value(0.1, 0.1, 0.1, 0.1, 0.95, 3))


def brute_force_seeds(est, low, high, thr, level, n):
    sd = (high - low) / 2 * math.sqrt(n) / scipy.stats.t.ppf(0.5 + level / 2, n - 1)
    m = 2
    while scipy.stats.t.ppf(0.5 + level / 2, m - 1) * sd / math.sqrt(m) >= abs(est - thr):
        m += 1
    return m


def test_seeds_needed_worked_example_and_monotone():
    # margin equal to the half-width at 3 seeds: just not decided at 3, decided at 4 (t_3 / 2 < t_2 / sqrt 3)
    assert ct.seeds_needed(1.0, 0.0, 2.0, 0.0, 0.95, 3) == 4
    for est, low, high, n in [(0.5, 0.0, 2.0, 3), (0.1, -0.5, 0.7, 5), (0.02, -0.3, 0.34, 10)]:
        assert ct.seeds_needed(est, low, high, 0.0, 0.95, n) == brute_force_seeds(
            est, low, high, 0.0, 0.95, n
        )
    # large n: about n (h / margin)^2
    assert ct.seeds_needed(0.1, -0.1, 0.3, 0.0, 0.95, 100) == pytest.approx(400, rel=0.02)
    margins = [0.01, 0.03, 0.1, 0.3, 0.9]
    need = [ct.seeds_needed(m, m - 1.0, m + 1.0, 0.0, 0.95, 4) for m in margins]
    assert need == sorted(need, reverse=True) and need[0] > need[-1]
    widths = [0.2, 0.5, 1.0, 2.0]
    need = [ct.seeds_needed(0.1, 0.1 - w, 0.1 + w, 0.0, 0.95, 4) for w in widths]
    assert need == sorted(need)
    for args in [(0.0, -1, 1, 0.0, 0.95, 3), (1.0, 0, 2, 0.0, 0.95, float("nan")), (1.0, 1, 1, 0.0, 0.95, 3)]:
        assert math.isnan(ct.seeds_needed(*args))


def test_flip_at():
    assert ct.flip_at(SUPPORTED, ">=", 1.0, 0.5, 1.5, 0.2) == 0.5
    assert ct.flip_at(NOT_SUPPORTED, ">=", 0.0, -0.5, 0.1, 0.2) == 0.1
    assert ct.flip_at(INCONCLUSIVE, ">=", 0.3, 0.1, 0.5, 0.2) == 0.1  # leans supported: low must clear
    assert ct.flip_at(INCONCLUSIVE, ">=", 0.15, 0.1, 0.5, 0.2) == 0.5  # leans not supported: high
    assert ct.flip_at(SUPPORTED, "<=", 0.0, -0.5, 0.1, 0.2) == 0.1
    assert ct.flip_at(NOT_SUPPORTED, "<", 1.0, 0.5, 1.5, 0.2) == 0.5
    assert math.isnan(ct.flip_at(INCONCLUSIVE, "", 1.0, 0.5, 1.5, float("nan")))


def test_holm_downgrades_within_a_paper_only():
    # two supported rows of paper 001, each with p about 0.03 and 0.04 (normal, no seeds): Holm keeps neither
    z03, z04 = scipy.stats.norm.isf(0.015), scipy.stats.norm.isf(0.02)
    q = scipy.stats.norm.ppf(0.975)
    rows = [
        row(z03, z03 - q, z03 + q, "> 0", SUPPORTED),
        row(z04, z04 - q, z04 + q, "> 0", SUPPORTED),
        row(1.0, -1.0, 3.0, "> 0", INCONCLUSIVE),
        row(z04, z04 - q, z04 + q, "> 0", SUPPORTED, study="002"),  # alone in its paper: kept
    ]
    df = ct.table(rows, {"ci_level": 0.95, "adjust": "holm"})
    assert df["p_value"].iloc[[0, 1, 3]].round(6).tolist() == [0.03, 0.04, 0.04]
    assert df["verdict_adjusted"].tolist() == [INCONCLUSIVE, INCONCLUSIVE, INCONCLUSIVE, SUPPORTED]
    assert df["verdict"].tolist() == [SUPPORTED, SUPPORTED, INCONCLUSIVE, SUPPORTED]
    none = ct.table(rows, {"ci_level": 0.95, "adjust": "none"})
    assert none["verdict_adjusted"].tolist() == none["verdict"].tolist()


def test_zero_width_rows_stay_outside_holm():
    """An exact value at its strict threshold (not supported, nothing to test) keeps its verdict; it neither
    joins nor enlarges the family of the paper's tested rows."""
    z = scipy.stats.norm.isf(0.02)
    q = scipy.stats.norm.ppf(0.975)
    rows = [row(0.0, 0.0, 0.0, "> 0", NOT_SUPPORTED), row(z, z - q, z + q, "> 0", SUPPORTED)]
    df = ct.table(rows, {"ci_level": 0.95, "adjust": "holm"})
    assert math.isnan(df["p_value"].iloc[0]) and df["verdict_adjusted"].tolist() == [NOT_SUPPORTED, SUPPORTED]


def test_adjusted_verdict_is_never_stronger_than_the_raw_one():
    rng = np.random.default_rng(3)
    rows = []
    for i in range(200):
        est = rng.normal(0, 1)
        half = abs(rng.normal(0, 0.7))
        low, high = est - half, est + half * rng.uniform(0.5, 1.5)
        direction = [">=", ">", "<=", "<"][i % 4]
        thr = round(float(rng.normal(0, 1)), 3)
        rows.append(
            row(
                est, low, high, f"x {direction} {thr}", verdict(low, high, thr, direction), study=f"00{i % 3}"
            )
        )
    rows.append(row(float("nan"), float("nan"), float("nan"), "-", INCONCLUSIVE))
    df = ct.table(rows, {})
    for raw, adj in zip(df["verdict"], df["verdict_adjusted"], strict=True):
        assert adj in (raw, INCONCLUSIVE) and STRENGTH[adj] <= STRENGTH[raw]
    assert list(df.columns) == list(ct.COLUMNS)
    # every inconclusive row with a seed count gets a finite seeds_needed, every decided one NaN
    assert df.loc[df["verdict"] != INCONCLUSIVE, "seeds_needed"].isna().all()


def test_signed_margins_put_meeting_the_criterion_on_the_positive_side():
    df = ct.table(
        [
            row(1.0, 0.5, 1.5, "x >= 0.2", SUPPORTED),
            row(0.0, -0.5, 0.1, "x <= 0.2", SUPPORTED),
            row(1.0, 0.5, 1.5, "0 <= x <= 0.2", NOT_SUPPORTED),
        ]
    )
    assert (df["margin_low"] <= df["margin"]).all() and (df["margin"] <= df["margin_high"]).all()
    np.testing.assert_allclose(
        df[["margin_low", "margin_high"]].to_numpy(), [[0.3, 1.3], [0.1, 0.7], [-1.3, -0.3]]
    )
    assert df["label"].iloc[0] == "C1 measure | scope"


def test_claim_numbers_of_unnumbered_claims_follow_their_order():
    rows = [row(0, 0, 0, "-", INCONCLUSIVE, study="000", claim=c) for c in ("a", "a", "b", "a", "c")]
    rows.append(row(0, 0, 0, "-", INCONCLUSIVE, claim="C7: seven"))
    assert ct.claim_numbers(rows) == ["C1", "C1", "C2", "C1", "C3", "C7"]


def test_cli_writes_csv_and_json(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps([row(1.0, 0.5, 1.5, "rho >= 0.2", SUPPORTED, study="000", claim="x", n_seeds=3)]))
    b.write_text(json.dumps([row(0.1, -0.2, 0.4, "-1 <= s <= 0.2", INCONCLUSIVE, method="t", level=0.9)]))
    out = tmp_path / "claims" / "claims.csv"
    report_cli.main(
        ["claims-table", "--inputs", str(a), str(b), "--stats", '{"adjust": "holm"}', "--out", str(out)]
    )
    df = pd.read_csv(out, dtype={"paper": str})
    assert df["paper"].tolist() == ["000", "001"] and list(df.columns) == list(ct.COLUMNS)
    assert df["seeds"].iloc[0] == 3 and df["level"].tolist() == [0.95, 0.9] and df["method"].iloc[1] == "t"
    records = json.loads(out.with_suffix(".json").read_text())
    assert [r["verdict_adjusted"] for r in records] == df["verdict_adjusted"].tolist()
    assert records[1]["seeds"] is None and records[1]["direction"] == "between"


def test_report_context_takes_the_claims_table_and_the_multiplicity_rule(tmp_path):
    from scaledyn.report import context

    rows = [row(1.0, 0.5, 1.5, "x >= 0.2", SUPPORTED), row(0.1, -0.2, 0.4, "x > 0", INCONCLUSIVE, n_seeds=3)]
    sections = {"minimal_model": {"claims": rows}}
    stats = {"ci_level": 0.9, "adjust": "none"}
    built = context.claims_of(None, sections, {"stats": stats})
    ct.write(ct.table(rows, stats), tmp_path / "claims.csv")
    read = context.claims_of(tmp_path / "claims.csv", sections, {"stats": stats})
    assert built["multiplicity"] == read["multiplicity"] == {"adjust": "none", "level": 0.9, "alpha": 0.1}
    assert read["claims_summary"] == built["claims_summary"]
    assert read["claims_summary"]["adjusted"] == {SUPPORTED: 1, NOT_SUPPORTED: 0, INCONCLUSIVE: 1}
    assert read["claims_summary"]["inconclusive_with_seeds"] == 1
    assert [c["paper"] for c in read["claims"]] == ["001", "001"] and read["claims"][0]["seeds"] is None


def test_pooled_df_and_own_se_drive_the_p_value():
    # a pooled-t row: half-width = t_{0.975, 12} * se; its p-value uses df 12, not seeds - 1 = 2
    se, q = 0.01, scipy.stats.t.ppf(0.975, 12)
    pooled = row(0.025, 0.025 - q * se, 0.025 + q * se, "d < 0", NOT_SUPPORTED, n_seeds=3, df=12, level=0.95)
    out = ct.table([pooled]).iloc[0]
    assert out["p_value"] == pytest.approx(2 * scipy.stats.t.sf(2.5, 12)) and out["df"] == 12
    # a simultaneous (Dunnett) row: half-width c * se with c above the t quantile; the row's se is used
    c = 2.9
    dunnett = row(0.025, 0.025 - c * se, 0.025 + c * se, "d < 0", NOT_SUPPORTED, n_seeds=3, df=12, se=se)
    assert ct.table([dunnett]).iloc[0]["p_value"] == pytest.approx(2 * scipy.stats.t.sf(2.5, 12))
    assert ct.table([dunnett]).iloc[0]["mde"] == pytest.approx(c * se)
    # seeds needed with its own df: the critical value held, half-width scaled by sqrt(n / n')
    assert ct.seeds_needed(0.01, -0.02, 0.04, 0.0, 0.95, 3, 12) == 27  # 0.03 sqrt(3 / n) < 0.01: n > 27


def test_a_row_adjusted_within_its_family_is_not_adjusted_again():
    z = scipy.stats.norm.isf(0.02)  # p = 0.04 with normal quantiles
    q = scipy.stats.norm.ppf(0.975)
    rows = [
        row(z, z - q, z + q, "> 0", SUPPORTED, study="002"),
        row(z, z - q, z + q, "> 0", SUPPORTED, study="002"),
        row(z, z - 2.9, z + 2.9, "> 0", INCONCLUSIVE, study="002", adjusted="dunnett, 3 comparisons"),
        row(0.3, 0.1, 0.5, "> 0", SUPPORTED, study="002", adjusted="dunnett, 3 comparisons", p_adjusted=0.03),
    ]
    df = ct.table(rows, {"ci_level": 0.95, "adjust": "holm"})
    # Holm over the two unadjusted rows only (m = 2): 0.04 * 2 > 0.05, both downgraded
    assert df["p_adjusted"].iloc[:2].round(6).tolist() == [0.08, 0.08]
    assert df["verdict_adjusted"].tolist() == [INCONCLUSIVE, INCONCLUSIVE, INCONCLUSIVE, SUPPORTED]
    assert df["p_adjusted"].iloc[3] == 0.03 and df["p_adjusted"].iloc[2] == df["p_value"].iloc[2]
    assert df["adjusted"].tolist() == ["", "", "dunnett, 3 comparisons", "dunnett, 3 comparisons"]


def test_covers_check_of_an_aa_comparison():
    from scaledyn.stats import ClaimResult

    ok = ClaimResult.checked("002", "A/A", "s", "aa - base", (0.01, -0.02, 0.04), "diff", "covers", 0.0)
    bad = ClaimResult.checked("002", "A/A", "s", "aa - base", (0.05, 0.02, 0.08), "diff", "covers", 0.0)
    none = ClaimResult.checked("002", "A/A", "s", "aa - base", (0.0, np.nan, np.nan), "diff", "covers", 0.0)
    assert (ok.verdict, bad.verdict, none.verdict) == (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)
    assert ok.criterion == "diff interval covers 0"
    df = ct.table([ok.as_dict(), bad.as_dict()], {"adjust": "holm"})
    assert df["direction"].tolist() == ["covers", "covers"]
    assert df["verdict_adjusted"].tolist() == [SUPPORTED, NOT_SUPPORTED]  # a check: no Holm step
    np.testing.assert_allclose(
        df[["margin_low", "margin", "margin_high"]], [[-0.02, 0.01, 0.04], [0.02, 0.05, 0.08]]
    )
    assert df["flip_at"].isna().all() and df["seeds_needed"].isna().all()
