"""Study 000: the simulation, its closed forms, determinism, the classifier and the claims."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

from scaledyn import config, estimators
from scaledyn.gsnr import claims, classify, simulate
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, ClaimResult, t_mean_ci


def small_params(**over) -> dict:
    """The gsnr section (schema defaults) with a small grid, ``over`` on top."""
    small = {
        "shape_dims": {"matrix": [6, 5], "vector": [1, 7], "scalar": [1, 1]},
        "steps": 120,
        "seeds": 3,
        "gsnr_draws": 8,
        "sigma": {k: {"min": 0.01, "max": 100.0, "num": 5} for k in ("entry", "total", "minibatch")},
        "tail_fraction": 0.25,
    }
    return config.section("gsnr", {**small, **over})


@pytest.mark.parametrize("noise", simulate.NOISE_MODELS)
@pytest.mark.parametrize("dims", [(6, 5), (1, 7), (1, 1)])
def test_exact_gsnr_matches_monte_carlo(noise, dims):
    """The closed form equals the GSNR of many gradient draws from the simulator's own noise model."""
    gen = torch.Generator().manual_seed(3)
    theta0 = simulate.make_theta0(dims, 0.125, gen)[None, None]
    sigma = torch.tensor([0.05, 1.0], dtype=torch.float32).view(1, 2, 1, 1)
    g = simulate._gsnr_draws(noise, theta0, 3.0, sigma, dims, [gen], 20_000, 16)
    mc = estimators.gsnr_bias_corrected(g.double(), param_dims=2).numpy()[0]
    signal_sq = 4.0 * float(theta0.double().square().sum())
    exact = simulate.exact_gsnr(noise, dims, signal_sq, np.array([0.05, 1.0]), 16)
    np.testing.assert_allclose(mc, exact, rtol=0.08)


def test_minibatch_gradient_is_unbiased():
    gen = torch.Generator().manual_seed(0)
    delta = torch.randn(1, 2, 4, 3, generator=gen)
    x = torch.randn(20_000, 1, 16, 3, generator=gen)
    eps = torch.randn(20_000, 1, 16, 4, generator=gen)
    g = simulate._minibatch_grad(
        delta.expand(20_000, 1, 2, 4, 3), torch.tensor([0.0, 2.0]).view(2, 1, 1), x, eps
    )
    torch.testing.assert_close(g.mean(0)[0], delta[0], atol=0.03, rtol=0)


def test_init_norm_and_schemes():
    gen = torch.Generator().manual_seed(1)
    theta0 = simulate.make_theta0((64, 64), 0.125, gen)
    assert float(theta0.norm()) == pytest.approx(0.125 * 64, rel=1e-5)
    assert simulate.init_scale((1, 64), {"scheme": "standard", "scale": 0.125}) == 1.0
    assert simulate.init_scale((64, 64), {"scheme": "standard", "scale": 0.125}) == 0.125
    assert simulate.init_scale((1, 1), {"scheme": "scaled", "scale": 0.125}) == 0.125


@pytest.mark.parametrize("noise", simulate.NOISE_MODELS)
@pytest.mark.parametrize("optimizer", simulate.OPTIMIZERS)
def test_single_point_equals_its_slice(noise, optimizer):
    params = small_params()
    full = simulate.simulate(params, "matrix", noise, optimizer, global_seed=11)
    sigma = simulate.sigma_grid(params["sigma"][noise])[2]
    alone = simulate.simulate(
        params, "matrix", noise, optimizer, global_seed=11, seed_indices=[1], sigmas=[sigma]
    )
    row = full[(full["seed"] == 1) & np.isclose(full["sigma"], sigma)]
    cols = ["gsnr_plugin", "gsnr_bias_corrected", "gsnr_exact", "norm_final", "norm_free", "norm_zero"]
    np.testing.assert_allclose(alone[cols].to_numpy(), row[cols].to_numpy(), rtol=1e-5)
    assert alone["adapts"].tolist() == row["adapts"].tolist()


def test_same_seed_identical_tables_and_other_seed_differs():
    params = small_params()
    a = simulate.simulate(params, "vector", "entry", "adamw", global_seed=5)
    b = simulate.simulate(params, "vector", "entry", "adamw", global_seed=5)
    c = simulate.simulate(params, "vector", "entry", "adamw", global_seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["norm_final"], c["norm_final"])


def test_noise_free_sgd_reaches_the_fixed_point():
    """With negligible noise SGD on 1/2||theta - c theta0||^2 + decay settles at c theta0 / (1 + lambda)."""
    params = small_params(steps=3000, sigma={"entry": {"min": 1e-9, "max": 1e-9, "num": 1}})
    df = simulate.simulate(params, "matrix", "entry", "sgd", global_seed=1)
    expected = params["target_factor"] / (1 + params["weight_decay"]) - 1
    np.testing.assert_allclose(df["scale_adaptation"], expected, rtol=1e-3)
    assert df["adapts"].all()


def test_large_noise_does_not_adapt():
    params = small_params(steps=400, sigma={"entry": {"min": 1e3, "max": 1e3, "num": 1}})
    df = simulate.simulate(params, "matrix", "entry", "sgd", global_seed=1)
    assert not df["adapts"].any()


def test_unknown_noise_model_is_a_clear_error():
    with pytest.raises(ValueError, match="allowed: entry, total, minibatch"):
        simulate.simulate(small_params(), "matrix", "pink", "sgd", global_seed=1)


def test_classifier_on_separable_set():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-3, -1, 40), rng.uniform(1, 3, 40)])
    y = np.concatenate([np.zeros(40, bool), np.ones(40, bool)])
    seeds = np.tile(np.arange(8), 10)
    thr, acc = classify.best_threshold(x, y)
    assert acc == 1.0 and x[~y].max() < thr < x[y].min()
    assert (classify.loso_predictions(x, y, seeds) == y).all()
    assert classify.roc_auc(x, y) == 1.0
    assert classify.roc_auc(-x, y) == 0.0


def test_classifier_known_overlap_and_ties():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([False, True, False, True])
    thr, acc = classify.best_threshold(x, y)
    assert acc == 0.75
    assert classify.roc_auc(x, y) == 0.75
    assert classify.roc_auc(np.ones(4), y) == 0.5
    assert math.isnan(classify.roc_auc(x, np.ones(4, bool)))
    # non-positive GSNR maps to -inf and lands below every threshold
    np.testing.assert_array_equal(classify.log10_gsnr([-1.0, 0.0, 10.0]), [-np.inf, -np.inf, 1.0])


def test_leave_one_seed_out_needs_two_seeds():
    with pytest.raises(ValueError, match="two seeds"):
        classify.loso_predictions(np.arange(4.0), np.array([0, 0, 1, 1], bool), np.zeros(4))


# --- claims (known answers on synthetic runs tables) -------------------------------------------------------

STATS = config.section("stats", {"bootstrap_resamples": 200})
SIGMAS = np.logspace(-2, 2, 5)


def synthetic_runs(paper_like: bool, jobs=(("entry", "sgd"),), seeds: int = 6) -> pd.DataFrame:
    """A runs table with a known answer to every claim: GSNR = level(shape) / sigma^2 (with a small per-seed
    jitter). ``paper_like``: matrix level 100 above vector 1 above scalar 0.1, scale adaptation = log10 GSNR
    (rank correlation 1), adapts = log10 GSNR >= 0 (separable by a threshold). Otherwise the opposite: matrix
    level lowest, scale adaptation = -log10 GSNR (rank correlation -1), adapts = log10 GSNR < 0 (no rule
    "adapts when GSNR >= threshold" gets it right)."""
    levels = (
        {"matrix": 100.0, "vector": 1.0, "scalar": 0.1}
        if paper_like
        else {"matrix": 0.01, "vector": 1.0, "scalar": 10.0}
    )
    rows = []
    for noise, opt in jobs:
        for seed in range(seeds):
            for shape, level in levels.items():
                for sigma in SIGMAS:
                    gsnr = level / sigma**2 * (1.0 + 1e-3 * seed)
                    log = float(np.log10(gsnr))
                    rows.append(
                        {
                            "noise_model": noise,
                            "optimizer": opt,
                            "shape": shape,
                            "seed": seed,
                            "sigma": sigma,
                            "gsnr_plugin": gsnr,
                            "gsnr_bias_corrected": gsnr,
                            "gsnr_exact": gsnr,
                            "scale_adaptation": log if paper_like else -log,
                            "adapts": (log >= 0) == paper_like,
                        }
                    )
    return pd.DataFrame(rows)


CLAIM_ROWS = [  # (claim function, measure, criterion) in check_all's order
    (claims.correlation, "Spearman rho", "rho >= 0.7"),
    (claims.ranking, "Somers' D", "D >= 0.8"),
    (claims.classifier_accuracy, "LOSO accuracy", "accuracy >= 0.9"),
    (claims.matrix_gsnr_gap, "min log10 GSNR gap", "gap > 0.3"),
    (claims.clean_separation, "in-sample error", "error <= 0.02"),
]


@pytest.mark.parametrize(
    ("claim", "measure", "criterion"), CLAIM_ROWS, ids=[c.__name__ for c, _, _ in CLAIM_ROWS]
)
@pytest.mark.parametrize("paper_like", [True, False], ids=["paper_like", "contrary"])
def test_claim_known_answer(claim, measure, criterion, paper_like):
    runs = synthetic_runs(paper_like, seeds=13)  # 195 runs: 0 errors shows an error <= 0.02 (needs 183)
    row = claim(runs, "entry noise, sgd", small_params(), STATS)
    assert (row.study, row.measure, row.criterion) == ("000", measure, criterion)
    assert row.ci_low <= row.value <= row.ci_high
    assert row.verdict == (SUPPORTED if paper_like else NOT_SUPPORTED), row


def test_claim_known_values():
    params = small_params()
    good, bad = synthetic_runs(True), synthetic_runs(False)
    assert claims.correlation(good, "", params, STATS).value == pytest.approx(1.0)
    assert claims.correlation(bad, "", params, STATS).value == pytest.approx(-1.0)
    assert claims.ranking(good, "", params, STATS).value == pytest.approx(1.0)
    assert claims.ranking(bad, "", params, STATS).value == pytest.approx(-1.0)
    assert claims.classifier_accuracy(good, "", params, STATS).value == 1.0
    assert claims.clean_separation(good, "", params, STATS).value == 0.0
    # the smallest gap: matrix 2 decades above vector; contrary: matrix 3 decades below scalar
    assert claims.matrix_gsnr_gap(good, "", params, STATS).value == pytest.approx(2.0, abs=1e-3)
    assert claims.matrix_gsnr_gap(bad, "", params, STATS).value == pytest.approx(-3.0, abs=1e-3)


def test_matrix_gap_without_a_matrix_is_inconclusive():
    runs = synthetic_runs(True)
    row = claims.matrix_gsnr_gap(runs[runs["shape"] != "matrix"], "s", small_params(), STATS)
    assert row.verdict == INCONCLUSIVE and np.isnan(row.value) and "needs a matrix" in row.note


def test_check_all_rows_per_claim_and_job():
    jobs = (("total", "adamw"), ("entry", "sgd"), ("entry", "adamw"))
    params = small_params()
    rows = claims.check_all({"runs": synthetic_runs(True, jobs, seeds=13)}, params, STATS)
    assert all(isinstance(r, ClaimResult) for r in rows)
    scopes = ["entry noise, adamw", "entry noise, sgd", "total noise, adamw"]  # jobs in sorted order
    gap_scopes = ["entry noise, any optimiser", "total noise, any optimiser"]  # once per noise model
    expected = []
    for claim, measure, _ in CLAIM_ROWS:
        here = gap_scopes if claim is claims.matrix_gsnr_gap else scopes
        expected += [(measure, s) for s in here] + [(measure, f"{s}, plugin at K=8") for s in here]
    assert [(r.measure, r.scope) for r in rows] == expected
    assert {r.verdict for r in rows} == {SUPPORTED}
    practitioner = [r for r in rows if r.scope.endswith("plugin at K=8")]
    assert all("practitioner" in r.note and "1/K = 0.12" in r.note for r in practitioner)
    assert set(rows[0].as_dict()) >= {  # what the claims table reads
        "study",
        "claim",
        "scope",
        "measure",
        "value",
        "ci_low",
        "ci_high",
        "criterion",
        "verdict",
        "note",
        "direction",
        "threshold",
        "n_seeds",
        "method",
        "level",
    }
    first = rows[0].as_dict()
    assert (first["direction"], first["threshold"], first["n_seeds"]) == (">=", 0.7, 13)
    # rho, D and the gap are equal in every seed of the synthetic runs: the median interval and sign test;
    # the error rates are pooled counts over the 13 x 3 x 5 runs of a job: Clopper-Pearson
    method = {"LOSO accuracy": "clopper-pearson", "in-sample error": "clopper-pearson"}
    assert all(
        (r.n_seeds, r.method, r.level) == (195, method[r.measure], STATS["ci_level"])
        if r.measure in method
        else (13, "sign (median)", STATS["ci_level"])
        for r in rows
    )
    roles = {(r.role, r.measure == "LOSO accuracy", "practitioner" in r.note) for r in rows}
    assert roles == {("claim", False, False), ("descriptive", True, False), ("practitioner", False, True),
                     ("practitioner", True, True)}  # fmt: skip


def test_claims_default_to_the_exact_gsnr_and_show_the_plugin():
    crit = config.section("gsnr", {})["claims"]
    assert crit["estimate"] == "exact" and crit["practitioner_estimates"] == ["plugin"]
    runs = synthetic_runs(True)
    runs["gsnr_plugin"] = 1.0  # a floored estimate: no information
    params = small_params()
    assert claims.ranking(runs, "", params, STATS).verdict == SUPPORTED  # decided on gsnr_exact
    assert claims.ranking(runs, "", params, STATS, estimate="plugin").value == pytest.approx(0.0)


def test_spearman_measures_norm_growth_somers_d_who_adapts():
    """Norm change falling with GSNR for every run (noise growth) while GSNR ranks who adapts perfectly:
    rho = -1 (not supported), Somers' D = 1 (supported)."""
    runs = synthetic_runs(True)
    runs["scale_adaptation"] = -np.log10(runs["gsnr_exact"])
    params = small_params()
    rho, d = claims.correlation(runs, "", params, STATS), claims.ranking(runs, "", params, STATS)
    assert rho.value == pytest.approx(-1.0) and rho.verdict == NOT_SUPPORTED
    assert d.value == pytest.approx(1.0) and d.verdict == SUPPORTED


def test_somers_d_is_two_auc_minus_one_per_seed():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    assert claims.somers_d(x, np.array([0, 0, 1, 1], bool)) == 1.0
    assert claims.somers_d(x, np.array([1, 1, 0, 0], bool)) == -1.0
    assert claims.somers_d(x, np.array([0, 1, 0, 1], bool)) == pytest.approx(2 * 0.75 - 1)
    assert np.isnan(claims.somers_d(x, np.ones(4, bool)))


def test_matrix_gap_once_per_noise_model_and_optimiser_free():
    runs = synthetic_runs(True, (("entry", "sgd"), ("entry", "adamw")))
    rows = claims.check_all({"runs": runs}, small_params(), STATS)
    gaps = [r for r in rows if r.measure == "min log10 GSNR gap"]
    assert [r.scope for r in gaps] == [
        "entry noise, any optimiser",
        "entry noise, any optimiser, plugin at K=8",
    ]
    runs.loc[runs["optimizer"] == "adamw", "gsnr_exact"] *= 2.0
    with pytest.raises(ValueError, match="differs between optimisers"):
        claims.matrix_gsnr_gap(runs, "", small_params(), STATS)


def test_matrix_gap_of_equal_shapes_is_no_gap():
    """Matrix and vector equal up to float32-size rounding: the gap rounds to 0, and 0 is not > 0."""
    runs = synthetic_runs(True)
    vec = runs[runs["shape"] == "vector"].set_index(["seed", "sigma"])["gsnr_exact"]
    mat = runs["shape"] == "matrix"
    jitter = 1.0 + 3e-8 * (runs.loc[mat, "seed"].to_numpy() - 2.5)
    runs.loc[mat, "gsnr_exact"] = (
        vec.loc[list(zip(runs.loc[mat, "seed"], runs.loc[mat, "sigma"], strict=True))].to_numpy() * jitter
    )
    runs = runs[runs["shape"] != "scalar"]
    row = claims.matrix_gsnr_gap(runs, "", small_params(), STATS)
    assert (row.value, row.ci_low, row.ci_high) == (0.0, 0.0, 0.0) and row.verdict == NOT_SUPPORTED


@pytest.mark.parametrize(("decades", "expected"), [(0.15, NOT_SUPPORTED), (0.6, SUPPORTED)])
def test_matrix_gap_below_the_smallest_effect_is_a_null(decades, expected):
    """A matrix GSNR a constant factor above the vector's: a gap of 0.15 decades (a ratio of 1.4, below the
    smallest effect of interest log10 2) is shown as a null, not left open; 0.6 decades is a gap."""
    runs = synthetic_runs(True)
    runs = runs[runs["shape"] != "scalar"].copy()
    vec = runs[runs["shape"] == "vector"].set_index(["seed", "sigma"])["gsnr_exact"]
    mat = runs["shape"] == "matrix"
    keys = list(zip(runs.loc[mat, "seed"], runs.loc[mat, "sigma"], strict=True))
    runs.loc[mat, "gsnr_exact"] = vec.loc[keys].to_numpy() * 10.0**decades
    row = claims.matrix_gsnr_gap(runs, "", small_params(), STATS)
    assert row.criterion == "gap > 0.3" and row.value == pytest.approx(decades, abs=0.01)
    assert row.verdict == expected


@pytest.mark.parametrize("noise", simulate.NOISE_MODELS)
def test_closed_form_gap_matches_simulated_exact_gsnr(noise):
    """The closed-form expectation in the note equals the gap of the simulator's exact GSNR, and is what the
    noise model makes it: entry 0, total log10(n_matrix / n_vector), minibatch 0 (same d_in)."""
    params = small_params(  # 6 seeds: enough for the sign test of a gap equal in every seed
        shapes=["matrix", "vector"], shape_dims={"matrix": [6, 5], "vector": [1, 5]}, steps=2, seeds=6
    )
    runs = simulate.simulate(params, "matrix", noise, "sgd", 0)
    runs = pd.concat([runs, simulate.simulate(params, "vector", noise, "sgd", 0)], ignore_index=True)
    row = claims.matrix_gsnr_gap(runs, "", params, STATS)
    lo, hi = params["claims"]["moderate_noise"]
    sig = np.unique(runs["sigma"][(runs["sigma"] >= lo) & (runs["sigma"] <= hi)])
    expected = claims.expected_matrix_gap(params, noise, ["matrix", "vector"], sig)
    assert expected == pytest.approx(
        {"entry": 0.0, "total": math.log10(6), "minibatch": 0.0}[noise], abs=1e-12
    )
    assert row.value == pytest.approx(expected, abs=1e-6)
    assert f"closed form {expected:+.3g}" in row.note and "by construction" in row.note
    assert row.verdict == (SUPPORTED if noise == "total" else NOT_SUPPORTED)


def test_loso_refits_the_threshold_without_the_held_out_seed():
    """Seeds 0 and 1 separate at 0, seed 2 at 5: refitted without the held-out seed, each held-out seed
    scores 0.5; a threshold fitted on all seeds (leaking the held-out one) would score 5/6 on average."""
    x = np.array([-1.0, 1.0, -1.0, 1.0, 4.0, 6.0])
    y = np.array([False, True, False, True, False, True])
    seeds = np.array([0, 0, 1, 1, 2, 2])
    correct = classify.loso_predictions(x, y, seeds) == y
    assert [correct[seeds == s].mean() for s in range(3)] == [0.5, 0.5, 0.5]
    runs = pd.DataFrame({"seed": seeds, "gsnr_exact": 10.0**x, "adapts": y})
    assert claims.classifier_accuracy(runs, "", small_params(), STATS).value == 0.5


def test_claim_intervals_are_t_intervals_of_per_seed_statistics():
    """Each claim's statistic is computed on each seed's runs; the CI is Student t over those values (over
    their Fisher z for a correlation)."""
    runs = synthetic_runs(True)
    rng = np.random.default_rng(0)
    runs["scale_adaptation"] += rng.normal(0.0, 1.5, len(runs))  # per-seed rank correlations now differ
    params = small_params()
    row = claims.correlation(runs, "", params, STATS)
    rho = [
        claims._spearman(np.log10(g["gsnr_plugin"]).to_numpy(), g["scale_adaptation"].to_numpy())
        for _, g in runs.groupby("seed")
    ]
    assert (row.value, row.ci_low, row.ci_high) == pytest.approx(np.tanh(t_mean_ci(np.arctanh(rho))))
    assert row.ci_low < row.value < row.ci_high and (row.n_seeds, row.method) == (6, "fisher-z t")
    # LOSO: each run predicted by the threshold refitted without its seed; the exact interval of the pooled
    # count (the beta quantiles of Clopper-Pearson), shown but not counted
    flip = runs.index[rng.random(len(runs)) < 0.1]
    runs.loc[flip, "adapts"] = ~runs.loc[flip, "adapts"]
    row = claims.classifier_accuracy(runs, "", params, STATS)
    x, y, seeds = np.log10(runs["gsnr_plugin"]).to_numpy(), runs["adapts"].to_numpy(), runs["seed"].to_numpy()
    k, n = int((classify.loso_predictions(x, y, seeds) == y).sum()), len(runs)
    assert 0 < n - k < n
    bounds = (scipy.stats.beta.ppf(0.025, k, n - k + 1), scipy.stats.beta.ppf(0.975, k + 1, n - k))
    assert (row.value, row.ci_low, row.ci_high) == pytest.approx((k / n, *bounds), rel=1e-9)
    assert (row.method, row.n_seeds, row.role) == ("clopper-pearson", n, "descriptive")
    assert f"{k} of {n} runs correct over 6 seeds" in row.note


def separable(runs: int, seeds: int, errors: int = 0) -> pd.DataFrame:
    """``runs`` runs over ``seeds`` seeds, perfectly separated at log10 GSNR = 0 but for ``errors`` runs
    whose label is flipped at the extremes (so the best threshold stays at 0)."""
    x = np.linspace(-3.0, 3.0, runs)
    adapts = x >= 0
    adapts[:errors] = True  # the lowest GSNRs labelled as adapting
    return pd.DataFrame({"seed": np.arange(runs) % seeds, "gsnr_exact": 10.0**x, "adapts": adapts})


def test_clean_separation_is_the_exact_interval_of_the_pooled_error_count():
    """Known answers of the Clopper-Pearson row: 0 errors in 40 runs has upper bound 1 - 0.025^(1/40) = 0.088,
    above 0.02 (inconclusive; the exact test's p at 0.02 is 2 * 0.98^40); 0 errors in 200 runs shows it
    (upper 0.018); 2 errors in 200 runs: the beta quantiles, and p = 2 P(X <= 2 | 0.02) (4 expected)."""
    params = small_params()
    row = claims.clean_separation(separable(40, 4), "", params, STATS)
    assert (row.value, row.ci_low, row.ci_high) == pytest.approx((0.0, 0.0, 1 - 0.025 ** (1 / 40)), abs=1e-12)
    assert (row.method, row.n_seeds, row.role, row.verdict) == ("clopper-pearson", 40, "claim", INCONCLUSIVE)
    assert row.p_value == pytest.approx(2 * 0.98**40, rel=1e-9) and "0 of 40 runs misclassified" in row.note
    row = claims.clean_separation(separable(200, 8), "", params, STATS)
    assert row.ci_high == pytest.approx(1 - 0.025 ** (1 / 200), rel=1e-9) and row.verdict == SUPPORTED
    row = claims.clean_separation(separable(200, 8, errors=2), "", params, STATS)
    low, high = scipy.stats.beta.ppf(0.025, 2, 199), scipy.stats.beta.ppf(0.975, 3, 198)
    assert (row.value, row.ci_low, row.ci_high) == pytest.approx((0.01, low, high), rel=1e-9)
    assert row.p_value == pytest.approx(2 * scipy.stats.binom.cdf(2, 200, 0.02), rel=1e-9)  # 4 expected
    assert row.verdict == INCONCLUSIVE


@pytest.mark.parametrize(
    ("seeds", "bounds", "p"), [(6, (1.0, 1.0), 2 * 0.5**6), (5, (np.nan, np.nan), 2 * 0.5**5)]
)
def test_correlation_rows_at_their_bound_use_the_sign_test(seeds, bounds, p):
    """Every seed at rho = D = 1 (no Fisher z): the distribution-free interval of the median, [1, 1] with 6
    seeds (its coverage 1 - 2 / 2^6 >= 0.95), undefined with 5 (1 - 2 / 2^5 < 0.95: inconclusive); the sign
    test of the criterion 0.7 (0.8) has p = 2 / 2^n, every seed above it."""
    runs = synthetic_runs(True, seeds=seeds)
    for claim in (claims.correlation, claims.ranking):
        row = claim(runs, "", small_params(), STATS)
        assert (row.value, row.method, row.n_seeds, row.test) == (1.0, "sign (median)", seeds, "sign")
        np.testing.assert_array_equal([row.ci_low, row.ci_high], bounds)
        assert row.p_value == pytest.approx(p, rel=1e-12)
        assert row.verdict == (SUPPORTED if seeds == 6 else INCONCLUSIVE)
