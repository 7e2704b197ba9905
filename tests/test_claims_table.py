"""The claims table of every study: one Holm family per paper over its claim rows, roles, MDE and sizing
columns, signed margins, flip points, the CLI and the report context."""

import json

import numpy as np
import pandas as pd
import pytest

from scaledyn import inference
from scaledyn.report import __main__ as report_cli
from scaledyn.report import claims_table as ct
from scaledyn.stats import EXACT, INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, ClaimResult, Settings

S = Settings(level=0.95, resamples=200, seed=0, method="t")


def claim(values, direction, threshold, study="001", role="claim", effect=float("nan"), name="C1: a claim"):
    """A claims row (dict) from per-seed values by the real interval and test."""
    interval = S.mean(np.asarray(values, dtype=float))
    row = ClaimResult.checked(study, name, "scope", "measure", interval, "x", direction, threshold)
    row.role, row.effect = role, effect
    return row.as_dict()


def test_one_holm_family_per_paper_over_its_claim_rows_only():
    strong = [1.0, 1.1, 0.9, 1.05, 0.95]  # p about 1e-5 against 0
    weak = [0.3, 0.1, 0.45, 0.2, 0.05]  # p = 0.030 against 0: decided raw, not by Holm with two of them
    rows = [
        claim(weak, ">", 0.0, "002"),
        claim(weak, ">", 0.0, "002"),
        claim(weak, ">", 0.0, "001"),  # alone in its paper's family: kept
        claim(strong, ">", 0.0, "002", role="practitioner"),
        claim(weak, "covers", 0.0, "002", role="check"),
    ]
    by = ct.table(rows, {"ci_level": 0.95, "adjust": "holm"})  # sorted by paper: 001 first
    assert by["family_size"].tolist() == [1, 2, 2, 2, 2]
    p = by["p_value"]
    assert by["p_adjusted"].iloc[:3].tolist() == pytest.approx([p[0], 2 * p[1], 2 * p[1]])
    assert by["verdict"].tolist() == [SUPPORTED] * 4 + [NOT_SUPPORTED]
    adjusted = [SUPPORTED, INCONCLUSIVE, INCONCLUSIVE, SUPPORTED, NOT_SUPPORTED]
    assert by["verdict_adjusted"].tolist() == adjusted
    assert by["counted"].tolist() == [True, True, True, False, False]
    assert by.loc[3:, "p_adjusted"].isna().all() and by.loc[3:, "mde"].isna().all()
    counts = ct.summary(by)  # tallies count claim rows only
    assert counts["verdict"] == {SUPPORTED: 3, NOT_SUPPORTED: 0, INCONCLUSIVE: 0}
    assert counts["verdict_adjusted"] == {SUPPORTED: 1, NOT_SUPPORTED: 0, INCONCLUSIVE: 2}
    none = ct.table(rows, {"adjust": "none"})
    assert none["verdict_adjusted"].iloc[:3].tolist() == [SUPPORTED] * 3


def test_only_exact_rows_skip_inference():
    exact = ClaimResult.checked(
        "002", "C5", "s", "overhead", (0.01, 0.01, 0.01), "o", "<=", 0.05, method=EXACT
    )
    no_test = ClaimResult(
        "002", "C9", "s", "m", 1.0, 0.5, 1.5, "x > 0", SUPPORTED, direction=">", threshold=0
    )
    df = ct.table([exact.as_dict(), no_test.as_dict(), claim([1.0, 1.1, 0.9], ">", 0.0, "002")])
    assert df["family_size"].tolist() == [1, 1, 1]  # the exact row and the untested row are not in the family
    # exact: keeps its verdict; a decided row without a p-value cannot be decided after adjustment
    assert df["verdict_adjusted"].tolist()[:2] == [SUPPORTED, INCONCLUSIVE]
    assert np.isnan(df["mde"].iloc[0]) and np.isnan(df["p_value"].iloc[0])


def test_mde_and_seeds_needed_come_from_the_spread_never_the_estimate():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 5)
    rows = [claim(base + shift, ">", 0.0, "003", effect=0.5) for shift in (0.0, 0.2, 0.4)]
    rows.append(claim(base, ">", 0.0, "003"))  # no smallest effect of interest: not sized
    df = ct.table(rows, {"ci_level": 0.95, "power": 0.8})
    se = float(np.std(base, ddof=1) / np.sqrt(5))
    assert df["mde"].tolist() == pytest.approx([inference.mde(se, 4, 0.05 / 4, 0.8)] * 4)
    need = inference.seeds_for(0.5, se, 4, 5, 0.05 / 4, 0.8)
    assert df["seeds_needed"].iloc[:3].tolist() == [need] * 3 and np.isnan(df["seeds_needed"].iloc[3])
    higher = ct.table(rows, {"ci_level": 0.95, "power": 0.9})
    assert (higher["mde"] > df["mde"]).all()


def test_adjusted_verdict_is_never_stronger_than_the_raw_one():
    rng = np.random.default_rng(3)
    rows = [
        claim(rng.normal(rng.normal(0, 1), 1, 4), [">=", ">", "<=", "<"][i % 4], 0.0, f"00{i % 3}")
        for i in range(120)
    ]
    df = ct.table(rows, {})
    strength = {INCONCLUSIVE: 0, SUPPORTED: 1, NOT_SUPPORTED: 1}
    for raw, adj in zip(df["verdict"], df["verdict_adjusted"], strict=True):
        assert adj in (raw, INCONCLUSIVE) and strength[adj] <= strength[raw]
    assert list(df.columns) == list(ct.COLUMNS)
    kept = df[df["verdict_adjusted"] != INCONCLUSIVE]
    assert (kept["p_adjusted"] <= 0.05).all()


def test_signed_margins_put_meeting_the_criterion_on_the_positive_side():
    up = ClaimResult.checked("001", "C1", "s", "m", (1.0, 0.5, 1.5), "x", ">=", 0.2)
    down = ClaimResult.checked("001", "C1", "s", "m", (0.0, -0.5, 0.1), "x", "<=", 0.2)
    aa = ClaimResult.checked("001", "C0", "s", "m", (0.01, -0.02, 0.04), "d", "covers", 0.0, role="check")
    df = ct.table([r.as_dict() for r in (up, down, aa)])
    np.testing.assert_allclose(
        df[["margin_low", "margin", "margin_high"]], [[0.3, 0.8, 1.3], [0.1, 0.2, 0.7], [-0.02, 0.01, 0.04]]
    )
    assert df["label"].iloc[0] == "C1 m | s"
    assert df["flip_at"].iloc[:2].tolist() == [0.5, 0.1] and np.isnan(df["flip_at"].iloc[2])


def test_flip_at():
    assert inference.flip_at(SUPPORTED, ">=", 1.0, 0.5, 1.5, 0.2) == 0.5
    assert inference.flip_at(NOT_SUPPORTED, ">=", -1.0, -1.5, -0.5, 0.2) == -0.5
    assert inference.flip_at(INCONCLUSIVE, ">=", 0.3, 0.1, 0.5, 0.2) == 0.1
    assert inference.flip_at(INCONCLUSIVE, "<=", 0.3, 0.1, 0.5, 0.2) == 0.1
    assert inference.flip_at(SUPPORTED, "<=", 0.0, -0.5, 0.1, 0.2) == 0.1
    assert np.isnan(inference.flip_at(SUPPORTED, "covers", 0.0, -0.5, 0.1, 0.0))


def test_claim_numbers_of_unnumbered_claims_follow_their_order():
    rows = [{"study": "000", "claim": c} for c in ("a", "a", "b", "a", "c")] + [
        {"study": "001", "claim": "C7: x"}
    ]
    assert ct.claim_numbers(rows) == ["C1", "C1", "C2", "C1", "C3", "C7"]


def test_cli_writes_csv_and_json(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps([claim([1.0, 1.2, 0.9], ">=", 0.2, "000")]))
    b.write_text(json.dumps([claim([0.1, -0.2, 0.4], "<=", 0.2, "001", role="practitioner")]))
    out = tmp_path / "claims" / "claims.csv"
    report_cli.main(
        ["claims-table", "--inputs", str(a), str(b), "--stats", '{"adjust": "holm"}', "--out", str(out)]
    )
    df = pd.read_csv(out, dtype={"paper": str})
    assert df["paper"].tolist() == ["000", "001"] and list(df.columns) == list(ct.COLUMNS)
    assert df["seeds"].iloc[0] == 3 and df["role"].tolist() == ["claim", "practitioner"]
    records = json.loads(out.with_suffix(".json").read_text())
    assert [r["verdict_adjusted"] for r in records] == df["verdict_adjusted"].tolist()
    assert records[1]["mde"] is None and records[0]["p_value"] == pytest.approx(df["p_value"].iloc[0])


def test_report_context_takes_the_claims_table_and_the_multiplicity_rule(tmp_path):
    from scaledyn.report import context

    rows = [
        claim([1.0, 1.1, 0.9], ">=", 0.2, effect=0.1),
        claim([0.1, -0.2, 0.4], ">", 0.0, effect=0.1),
        claim([0.1, -0.2, 0.4], ">", 0.0, role="practitioner"),
    ]
    sections = {"minimal_model": {"claims": rows}}
    stats = {"ci_level": 0.9, "adjust": "none"}
    built = context.claims_of(None, sections, {"stats": stats})
    ct.write(ct.table(rows, stats), tmp_path / "claims.csv")
    read = context.claims_of(tmp_path / "claims.csv", sections, {"stats": stats})
    rule = {"adjust": "none", "level": 0.9, "alpha": 0.1, "power": 0.8}
    assert built["multiplicity"] == read["multiplicity"] == rule
    assert read["claims_summary"] == built["claims_summary"]
    summary = read["claims_summary"]
    assert summary["adjusted"] == {SUPPORTED: 1, NOT_SUPPORTED: 0, INCONCLUSIVE: 1}
    assert (summary["counted"], summary["not_counted"]["practitioner"], summary["family_size"]) == (
        2,
        1,
        {"001": 2},
    )
    assert summary["inconclusive_sized"] == 1 and summary["sizing"][0]["rows"] == 2


def test_the_glance_lists_each_claims_counted_rows_under_their_adjusted_verdict():
    """The report's first page: per paper, claim by claim, the rows under the verdict Holm left them (a row
    named by its scope, by its measure where a claim has several rows of one scope); checks apart,
    practitioner rows left out."""
    strong, against = [1.0, 1.1, 0.9, 1.05, 0.95], [-1.0, -1.1, -0.9, -1.05, -0.95]
    weak = [0.3, 0.1, 0.45, 0.2, 0.05]  # p = 0.030: raw supported, inconclusive under Holm beside another
    rows = [
        claim(strong, ">", 0.0, "002", name="C1: first"),
        claim(weak, ">", 0.0, "002", name="C1: first"),
        claim(against, ">", 0.0, "002", name="C2: second"),
        claim(weak, ">", 0.0, "002", name="C2: second"),
        claim(strong, ">", 0.0, "002", name="C2: second", role="practitioner"),
        claim(weak, "covers", 0.0, "002", name="C0: same", role="check"),
    ]
    rows[1]["measure"] = "another measure"  # C1 has two rows of one scope: named by their measures
    rows[3]["scope"] = "other scope"
    (paper,) = ct.glance(ct.table(rows, {"ci_level": 0.95, "adjust": "holm"}))
    first, second = paper["claims"]
    assert paper["paper"] == "002" and first["claim"] == "C1: first" and second["claim"] == "C2: second"
    assert first[SUPPORTED] == ["measure"] and first[INCONCLUSIVE] == ["another measure"]
    assert second[NOT_SUPPORTED] == ["scope"] and second[INCONCLUSIVE] == ["other scope"]
    assert second[SUPPORTED] == []  # the practitioner row is not here
    assert [c["claim"] for c in paper["checks"]] == ["C0: same"] and paper["checks"][0][NOT_SUPPORTED]
