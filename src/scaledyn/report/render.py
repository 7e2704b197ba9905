"""Render the LaTeX report from the JSON context with jinja2.

LaTeX-safe delimiters: ``\\BLOCK{...}`` for statements, ``\\VAR{...}`` for expressions, ``\\#{...}`` for
comments, and lines starting with ``%%`` as line statements; braces and ``%`` keep their LaTeX meaning.
"""

from __future__ import annotations

import math
from pathlib import Path

import jinja2

from scaledyn.io import atomic_path

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex(value: object) -> str:
    """Escape a value for LaTeX text."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(value))


def num(value: object, digits: int = 3) -> str:
    r"""A number with ``digits`` significant digits; n/a for missing or NaN; scientific for extremes.

    Scientific notation uses ``\ensuremath`` so the result works in text and in math mode alike.
    """
    if value is None:
        return "n/a"
    x = float(value)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return r"\ensuremath{\infty}" if x > 0 else r"\ensuremath{-\infty}"
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        return rf"\ensuremath{{{mant}\times 10^{{{int(exp)}}}}}"
    text = f"{x:.{digits}g}"
    return text if "e" not in text else f"{round(x):d}"  # 1000 <= |x| < 10000


def ci(value: object, low: object, high: object, digits: int = 3) -> str:
    """``value [low, high]``."""
    return f"{num(value, digits)} [{num(low, digits)}, {num(high, digits)}]"


def environment(template_dir: str | Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(tex=tex, num=num)
    env.globals.update(ci=ci)
    return env


def render(context: dict, template_dir: str | Path, out_dir: str | Path) -> None:
    """Render ``report.tex.j2`` to ``report.tex`` and each study's ``<study>.tex.j2`` partial beside it."""
    env = environment(template_dir)
    for name in ["report", *context["studies"]]:
        text = env.get_template(f"{name}.tex.j2").render(**context)
        with atomic_path(Path(out_dir) / f"{name}.tex") as tmp:
            tmp.write_text(text)
