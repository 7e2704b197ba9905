"""The one place that reads the config schema, fills defaults and validates (the Snakefile and every CLI).

Every default, type and range lives in ``workflow/schemas/*.schema.yaml``: ``config.schema.yaml`` for the
top level and one file per study section (``gsnr``, ``minimal_model``, ``llm``), spliced in where the top
level ``$ref``s them. Nothing in the package repeats a default.

- :func:`load` validates a whole config (the Snakefile calls it once, when the DAG is built).
- :func:`section` validates one section given in part (every CLI calls it on what it is given), so a
  partial section is completed by the schema's defaults exactly as in the DAG.
- :func:`read` parses a CLI's ``--params`` argument (inline JSON or a JSON / YAML file).

Rules, each checked here only: the JSON schema (jsonschema, Draft 2020-12, with defaults filled in
as it validates); no NaN or infinity anywhere; and the cross-key checks the schema cannot express
(each study's ``check``, gathered in :mod:`scaledyn.studies`: this module imports no study). A failure
raises :class:`ConfigError` whose message is one line naming the key and what is allowed there.

Named maps (an object of named entries with a default map, e.g. ``llm.sizes``, ``gsnr.shape_dims``): the
default entries stay defined, and a config's entry named like one of them (``llm.sizes.tiny``) is completed
from it, so a config can change one key of a predefined size or add a new size.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "workflow" / "schemas"
Config = dict[str, Any]
Check = Callable[..., None]  # check(section, *, runs: bool): raises ConfigError (see :func:`invalid`)


class ConfigError(ValueError):
    """A config (or a CLI's section) the pipeline cannot run; the message is one line naming the key."""


# -- schema -------------------------------------------------------------------------------------------------


@functools.cache
def _schema() -> Config:
    top = SCHEMA_DIR / "config.schema.yaml"
    if not top.exists():
        raise ConfigError(f"schema {top} not found (run from a checkout of the scaledyn repository)")
    schema = yaml.safe_load(top.read_text())
    for name, prop in schema["properties"].items():
        if prop.get("$ref", "").endswith(".yaml"):
            part = yaml.safe_load((SCHEMA_DIR / prop["$ref"]).read_text())
            schema.setdefault("$defs", {}).update(part.pop("$defs", {}))  # "#/$defs/..." resolve at the root
            part.pop("$schema", None)
            schema["properties"][name] = part
    return schema


def schema() -> Config:
    """The whole config schema, every study file spliced in (a copy)."""
    return copy.deepcopy(_schema())


def section_schema(name: str) -> Config:
    """The schema of the top-level section ``name``, with the shared ``$defs``."""
    root = _schema()
    if name not in root["properties"]:
        raise ConfigError(f"unknown config section {name!r}; sections: {', '.join(root['properties'])}")
    return {"$defs": root.get("$defs", {}), **copy.deepcopy(root["properties"][name])}


# -- defaults -----------------------------------------------------------------------------------------------


def _default(validator, sub: Config) -> Any:
    """The ``default`` of a subschema, looked up through a local ``$ref``; ``_MISSING`` if none."""
    if "$ref" in sub and "default" not in sub:
        sub = validator._resolver.lookup(sub["$ref"]).contents  # jsonschema's own $ref resolution
    return copy.deepcopy(sub["default"]) if "default" in sub else _MISSING


def _fill_properties(validator, properties, instance, schema):
    if isinstance(instance, dict):
        for key, sub in properties.items():
            if key not in instance and (value := _default(validator, sub)) is not _MISSING:
                instance[key] = value
    yield from _BASE.VALIDATORS["properties"](validator, properties, instance, schema)


def _fill_named_entries(validator, additional, instance, schema):
    if isinstance(instance, dict) and isinstance(schema.get("default"), dict):
        for key, base in copy.deepcopy(schema["default"]).items():
            value = instance.get(key, {} if isinstance(base, dict) else base)
            instance[key] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
    yield from _BASE.VALIDATORS["additionalProperties"](validator, additional, instance, schema)


_MISSING = object()
_BASE = jsonschema.Draft202012Validator
_Filling = jsonschema.validators.extend(
    _BASE, {"properties": _fill_properties, "additionalProperties": _fill_named_entries}
)


# -- validation ---------------------------------------------------------------------------------------------


def _where(path: Iterator[Any], prefix: str = "") -> str:
    return ".".join([p for p in [prefix] if p] + [str(p) for p in path]) or "(top level)"


def _message(err: jsonschema.ValidationError, prefix: str) -> str:
    """One line naming the offending key and what the schema allows there."""
    allowed = []
    if err.validator == "additionalProperties" and "properties" in err.schema:
        allowed.append("allowed keys: " + ", ".join(sorted(err.schema["properties"])))
    for key in ("enum", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minItems", "type"):
        if key in err.schema:
            allowed.append(f"{key} {err.schema[key]}")
    if "description" in err.schema and (err.absolute_path or prefix):
        allowed.append(" ".join(err.schema["description"].split()))
    text = f"Invalid config at '{_where(err.absolute_path, prefix)}': {err.message}"
    return text + (". Allowed: " + "; ".join(allowed) if allowed else "")


def _non_finite(value: Any, path: list[str]) -> list[str] | None:
    """The path of the first NaN or infinity in ``value``, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(item, [*path, str(key)])
        if found is not None:
            return found
    return None


def _validate(instance: Config, schema: Config, prefix: str) -> Config:
    out = coerce(copy.deepcopy(instance), schema)
    bad = _non_finite(out, [prefix] if prefix else [])
    if bad is not None:
        raise ConfigError(f"Invalid config at '{'.'.join(bad)}': NaN and infinity are not allowed")
    errors = list(_Filling(schema).iter_errors(out))
    if errors:
        raise ConfigError(_message(jsonschema.exceptions.best_match(errors), prefix))
    return out


def load(config: Config, checks: Mapping[str, Check] | None = None) -> Config:
    """A whole config validated and completed by the schema's defaults (a new dict); :class:`ConfigError`.
    ``checks``: each section's cross-key check (``check(section, runs=...)``, with ``runs`` for the studies
    the config runs); the studies register theirs in :mod:`scaledyn.studies`, which passes them."""
    out = _validate(config, _schema(), "")
    for name, check in (checks or {}).items():
        check(out[name], runs=name in out["studies"])
    return out


def section(name: str, given: Config | None = None, check: Check | None = None) -> Config:
    """The top-level section ``name`` from the part ``given`` (may be empty), completed and validated, and
    checked by the section's ``check`` without its run-list rules (a CLI is given one job)."""
    out = _validate(given or {}, section_schema(name), name)
    if check is not None:
        check(out, runs=False)
    return out


# -- --config strings ---------------------------------------------------------------------------------------


def _deref(schema: Config, root: Config) -> Config:
    """The subschema itself, or the definition its ``$ref`` names."""
    return root["$defs"][schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema


def _kinds(schema: Config, root: Config) -> set[str]:
    """The JSON types a (sub)schema allows, through a ``$ref``."""
    kinds = _deref(schema, root).get("type", [])
    return set(kinds if isinstance(kinds, list) else [kinds])


def coerce(value: Any, schema: Config, root: Config | None = None) -> Any:
    """``--config`` passes nested values as strings: numbers (or null) where the schema asks for them."""
    root = root or schema
    schema = _deref(schema, root)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):  # the first branch the value fits
        if isinstance(value, dict):
            if "object" in _kinds(branch, root):
                return coerce(value, branch, root)
        elif (out := coerce(value, branch, root)) is not value:
            return out
    kinds = _kinds(schema, root)
    if isinstance(value, str):
        if "null" in kinds and value in ("null", "None", "~"):
            return None
        for kind, cast in (("integer", int), ("number", float)):
            if kind in kinds:
                try:
                    return cast(value)
                except ValueError:
                    pass
        return value
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        fallback = extra if isinstance(extra, dict) else {}
        return {k: coerce(v, props.get(k, fallback), root) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [coerce(v, schema["items"], root) for v in value]
    return value


# -- cross-key checks ---------------------------------------------------------------------------------------


def invalid(key: str, message: str) -> ConfigError:
    """The error of a config key that breaks a cross-key rule (a study's check raises it)."""
    return ConfigError(f"Invalid config at '{key}': {message}")


# -- CLI arguments ------------------------------------------------------------------------------------------


def read(text_or_path: str | None, name: str, check: Check | None = None) -> Config:
    """A CLI's ``--params``: inline JSON (starts with ``{``) or a JSON / YAML file, completed by
    :func:`section` (and ``check``). A file holding a whole config (a top-level ``name`` key) is reduced to
    that section."""
    raw: Any = {}
    if text_or_path:
        try:
            if text_or_path.lstrip().startswith("{"):
                raw = json.loads(text_or_path)
            else:
                raw = yaml.safe_load(Path(text_or_path).read_text())  # YAML is a superset of JSON
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the {name} section from {text_or_path[:80]!r}: {exc}") from None
    if isinstance(raw, dict) and name in raw and name in _schema()["properties"]:
        raw = raw[name]
    if not isinstance(raw, dict):
        raise ConfigError(f"the {name} section must be a mapping")
    return section(name, raw, check)
