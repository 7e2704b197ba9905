"""scaledyn.config: schema-only defaults, partial sections completed, one-line errors, --config coercion."""

import json

import pytest
import yaml

from scaledyn import config, studies
from tests.conftest import ROOT


def test_the_default_config_file_overrides_nothing():
    assert studies.load(yaml.safe_load((ROOT / "config/config.yaml").read_text())) == studies.load({})


def test_every_section_is_filled_from_the_schema():
    full = studies.load({})
    assert set(full) == set(config.schema()["properties"])
    for name in ("gsnr", "minimal_model", "llm", "stats", "report"):
        assert config.section(name) == full[name]


def test_a_partial_section_gets_the_schema_defaults():
    llm = studies.section("llm", {"optim": {"lr": 0.1}})
    assert llm["optim"]["lr"] == 0.1 and llm["optim"]["beta2"] == studies.section("llm")["optim"]["beta2"]
    assert llm["sizes"]["tiny"]["steps"] == studies.section("llm")["sizes"]["tiny"]["steps"]


def test_a_named_entry_is_completed_from_its_default_and_new_entries_add():
    llm = studies.section("llm", {"sizes": {"tiny": {"steps": 7}, "small": {"n_layers": 2, "d_model": 64,
                         "n_heads": 2, "context": 32, "batch_size": 4, "steps": 5}}})  # fmt: skip
    default = studies.section("llm")["sizes"]
    assert llm["sizes"]["tiny"] == {**default["tiny"], "steps": 7}
    assert llm["sizes"]["gpt124m"] == default["gpt124m"]
    assert llm["sizes"]["small"]["micro_batch_size"] is None and llm["sizes"]["small"]["mlp_multiple"] == 64


@pytest.mark.parametrize(
    ("name", "given", "key"),
    [
        ("llm", {"optim": {"lr": float("nan")}}, "llm.optim.lr"),
        ("gsnr", {"sigma": {"entry": {"max": float("inf")}}}, "gsnr.sigma.entry.max"),
        ("minimal_model", {"optim": {"lr_typo": 0.1}}, "lr_typo"),
        ("llm", {"sizes": {"tiny": {"d_model": 30}}}, "llm.sizes.tiny"),
        ("stats", {"ci_level": 2}, "stats.ci_level"),
    ],
)
def test_bad_sections_raise_one_line_naming_the_key(name, given, key):
    with pytest.raises(config.ConfigError) as err:
        studies.section(name, given)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_the_config_module_runs_no_study_rule_by_itself():
    """Cross-key rules are the studies' (scaledyn.studies gathers them); the schema alone accepts them."""
    assert config.section("llm", {"sizes": {"tiny": {"d_model": 30}}})["sizes"]["tiny"]["d_model"] == 30
    with pytest.raises(config.ConfigError, match="llm.sizes.tiny"):
        config.section("llm", {"sizes": {"tiny": {"d_model": 30}}}, studies.CHECKS["llm"])


def test_run_list_checks_need_the_whole_config():
    """A CLI gets one job's narrowed section; which runs exist is checked once, on the whole config."""
    assert studies.section("llm", {"run_sizes": ["huge"]})["run_sizes"] == ["huge"]
    with pytest.raises(config.ConfigError, match="llm.run_sizes"):
        studies.load({"llm": {"run_sizes": ["huge"]}})


def test_read_accepts_inline_json_a_file_and_a_whole_config(tmp_path):
    assert config.read('{"lr": 0.5}', "gsnr")["lr"] == 0.5
    (tmp_path / "whole.yaml").write_text("gsnr:\n  lr: 0.25\n")
    assert config.read(str(tmp_path / "whole.yaml"), "gsnr")["lr"] == 0.25
    (tmp_path / "part.json").write_text(json.dumps({"steps": 3}))
    assert config.read(str(tmp_path / "part.json"), "gsnr")["steps"] == 3
    with pytest.raises(config.ConfigError, match="cannot read the gsnr section"):
        config.read(str(tmp_path / "missing.yaml"), "gsnr")


def test_command_line_strings_become_numbers_where_the_schema_says():
    out = studies.load({"gsnr": {"sigma": {"entry": {"min": "0.1", "max": "10", "num": "3"}}},
                       "llm": {"diverge_loss": "4.5", "ckpt_every": "null"}})  # fmt: skip
    assert out["gsnr"]["sigma"]["entry"] == {"min": 0.1, "max": 10.0, "num": 3}
    assert out["llm"]["diverge_loss"] == 4.5 and out["llm"]["ckpt_every"] is None
    # a key with alternative forms (oneOf / anyOf): the branch the value fits
    assert studies.load({"llm": {"seeds": "4"}})["llm"]["seeds"] == 4
    assert studies.load({"llm": {"seeds": {"pilot": "2", "max": "5"}}})["llm"]["seeds"] == {
        "pilot": 2,
        "max": 5,
    }
    assert (
        studies.load({"llm": {"sizes": {"tiny": {"arms": "null"}}}})["llm"]["sizes"]["tiny"]["arms"] is None
    )


def test_no_python_copy_of_a_default():
    """Defaults live in the schema: no module keeps a DEFAULT_* table of a config section."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "src/scaledyn").rglob("*.py")
        if any(name in p.read_text() for name in ("DEFAULT_PARAMS", "DEFAULT_STATS", "SIZE_KEYS"))
    ]
    assert offenders == []
