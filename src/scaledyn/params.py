"""Study parameter sections for the CLIs: defaults completed by a (partial) section, and reading one.

The Snakemake DAG passes each job the validated, default-filled section of ``workflow/schemas``; the CLIs also
accept partial sections (tests, benchmarks) and complete them from the study's Python defaults with ``merge``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any


def merge(
    base: dict[str, Any],
    override: dict[str, Any],
    *,
    section: str,
    path: str = "",
    error: type[Exception] = KeyError,
    open_maps: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``; an unknown key raises ``error`` naming it.

    ``open_maps`` maps a dotted path prefix (e.g. ``"sizes."``) to a template: under that prefix new named
    entries are allowed, each completed from the template.
    """
    open_maps = open_maps or {}
    out = copy.deepcopy(base)
    for key, value in override.items():
        if path in open_maps and key not in base:
            if not isinstance(value, dict):
                raise error(f"{section}.{path}{key} must be a mapping")
            out[key] = merge(open_maps[path], value, section=section, path=f"{path}{key}.", error=error)
            continue
        if key not in base:
            raise error(f"unknown {section} parameter {path + key!r}; allowed: {', '.join(base)}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            out[key] = merge(
                base[key], value, section=section, path=f"{path}{key}.", error=error, open_maps=open_maps
            )
        else:
            out[key] = copy.deepcopy(value)
    return out


def read(text_or_path: str | None, section: str) -> Any:
    """Parse a CLI argument: inline JSON (starts with ``{``) or a path to a JSON / YAML file.

    A file holding a whole config (a top-level ``section`` key) is reduced to that section.
    """
    if not text_or_path:
        return {}
    if text_or_path.lstrip().startswith("{"):
        raw = json.loads(text_or_path)
    else:
        path = Path(text_or_path)
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(path.read_text())
        else:
            raw = json.loads(path.read_text())
    if isinstance(raw, dict) and section in raw:
        raw = raw[section]
    return raw
