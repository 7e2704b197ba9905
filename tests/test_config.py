"""Bad configs stop before any job runs, with one message naming the key and what is allowed."""

import pytest
import yaml

from scaledyn import config, studies
from tests.conftest import snakemake

BAD = [
    ("gsnr:\n  steps: many\n", "gsnr.steps", "integer"),
    (
        "gsnr:\n  sigma:\n    entry: {min: -1.0, max: 10.0, num: 5}\n",
        "gsnr.sigma.entry.min",
        "exclusiveMinimum 0",
    ),
    ("gsnr:\n  optimizers: []\n", "gsnr.optimizers", "non-empty"),
    ("gsnr:\n  noise_models: []\n", "gsnr.noise_models", "non-empty"),
    ("studies: [gsnrr]\n", "studies.0", "enum ['gsnr', 'minimal_model', 'llm']"),
    ("bogus_key: 1\n", "top level", "allowed keys: gsnr, llm, minimal_model, report, seed, stats, studies"),
    ("minimal_model:\n  sweeps:\n    batch: {values: []}\n", "sweeps.batch.values", "non-empty"),
    ("gsnr:\n  lr_typo: 0.1\n", "'gsnr'", "'lr_typo' was unexpected"),
    ("gsnr:\n  shapes: [matrix, tensor]\n", "gsnr.shapes", "not defined in gsnr.shape_dims"),
    (
        "gsnr:\n  sigma:\n    total: {min: 10.0, max: 1.0, num: 5}\n",
        "gsnr.sigma.total",
        "max (1.0) is below min",
    ),
    ("gsnr:\n  claims: {estimate: median}\n", "gsnr.claims.estimate", "plugin"),
    ("llm:\n  run_sizes: [huge]\n", "llm.run_sizes", "not defined in llm.sizes"),
    ("llm:\n  arms: {prenorm: [baseline, wd_output]}\n", "llm.arms.prenorm", "under llm.arms.sandwich"),
    ("llm:\n  arms: {prenorm: [baseline, fancy]}\n", "llm.arms.prenorm.1", "unified"),
    (
        "llm:\n  arms: {sandwich: [no_scale, md]}\n",
        "llm.arms.sandwich",
        "'baseline' (llm.claims.reference) is missing",
    ),
    ("llm:\n  arms: {postnorm: [baseline]}\n", "llm.arms", "enum ['prenorm', 'sandwich']"),
    (
        "llm:\n  sizes:\n    tiny: {arms: {prenorm: [baseline, wd_output]}}\n",
        "llm.sizes.tiny.arms.prenorm",
        "under llm.arms.sandwich",
    ),
    ("llm:\n  sizes:\n    tiny: {d_model: 30}\n", "llm.sizes.tiny", "multiple of n_heads"),
    ("llm:\n  sizes:\n    big: {n_layers: 2}\n", "llm.sizes.big", "'d_model' is a required property"),
    ("llm:\n  corpus: {val_fraction: 1.5}\n", "llm.corpus.val_fraction", "exclusiveMaximum 1"),
    ("llm:\n  device: gpu\n", "llm.device", "cuda"),
    ("llm:\n  seeds: 0\n", "llm.seeds", "minimum 1"),
    ("llm:\n  optim: {lr: .nan}\n", "llm.optim.lr", "NaN and infinity are not allowed"),
    (
        "gsnr:\n  sigma:\n    entry: {min: 1.0e-3, max: .inf, num: 5}\n",
        "gsnr.sigma.entry.max",
        "NaN and infinity are not allowed",
    ),
    ("llm:\n  sizes:\n    tiny: {micro_batch_size: 5}\n", "llm.sizes.tiny", "multiple of micro_batch_size"),
    ("llm:\n  nproc: 3\n", "llm.nproc", "does not split into 3 equal slices"),
    ("stats:\n  ci_level: 1.5\n", "stats.ci_level", "exclusiveMaximum 1"),
]


@pytest.mark.parametrize(("text", "key", "allowed"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_config_is_one_line_naming_the_key_and_what_is_allowed(text, key, allowed):
    """What the DAG runs on its config before any job (scaledyn.studies.load, workflow/rules/common.smk)."""
    with pytest.raises(config.ConfigError) as err:
        studies.load(yaml.safe_load(text))
    message = str(err.value)
    assert key in message and allowed in message and "\n" not in message, message


# the DAG's own handling, once per kind of rule: the schema, a study's cross-key check, a non-finite value
DAG_BAD = [BAD[0], BAD[8], BAD[22]]


@pytest.mark.parametrize(("text", "key", "allowed"), DAG_BAD, ids=[b[1] for b in DAG_BAD])
def test_bad_config_fails_before_any_job(repo_copy, text, key, allowed):
    (repo_copy / "bad.yaml").write_text(text)
    proc = snakemake(repo_copy, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stdout.splitlines() if line.startswith("Error in config:")]
    assert len(errors) == 1, proc.stdout
    assert key in errors[0] and allowed in errors[0], errors[0]
    assert "Traceback" not in proc.stdout
    assert not (repo_copy / "results").exists()


def test_nested_values_from_command_line_are_typed(repo_copy):
    """--config passes nested values as strings; numbers where the schema wants them are accepted."""
    proc = snakemake(repo_copy, "-n", "--config", "gsnr={sigma: {entry: {min: 0.1, max: 10, num: 3}}}")
    assert "gsnr_simulate" in proc.stdout
    bad = snakemake(repo_copy, "-n", "--config", "gsnr={sigma: {entry: {min: -3}}}", check=False)
    assert bad.returncode != 0 and "gsnr.sigma.entry.min" in bad.stdout
    nan = snakemake(repo_copy, "-n", "--config", "llm={optim: {lr: nan}}", check=False)
    assert nan.returncode != 0 and "Error in config: Invalid config at 'llm.optim.lr': NaN" in nan.stdout


def test_default_and_smoke_configs_are_valid(repo_copy):
    snakemake(repo_copy, "-n")
    snakemake(repo_copy, "-n", "--configfile", "config/smoke.yaml")


def test_missing_corpus_fails_the_data_rule_with_one_clear_line(repo_copy):
    proc = snakemake(
        repo_copy,
        "--cores",
        "1",
        "results/llm/data/meta.json",
        "--config",
        "llm={corpus: {path: /no/such/corpus}}",
        check=False,
    )
    assert proc.returncode != 0
    assert "Error: corpus path /no/such/corpus does not exist" in proc.stdout, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout
    assert not (repo_copy / "results/llm/data/meta.json").exists()
