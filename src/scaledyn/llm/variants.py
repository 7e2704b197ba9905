"""Scale-vector variants of study 002 (paper 002, "Negligible in Size, Significant in Effect").

A variant is a set of composable flags (:class:`ScaleFlags`); :data:`VARIANTS` names the eight the study
trains. The flags only change the *scale vectors* (the gains gamma of the RMSNorm layers and the extra
vectors some variants add); every weight matrix, its initialisation and the data order are the same for
all variants of a seed (see :mod:`scaledyn.llm.model` and :mod:`scaledyn.llm.train`).

Vocabulary (our definitions; the paper's text beyond its abstract is not available):

- *Input-Norm*: a norm whose output feeds linear maps: the pre-attention norm (read by q, k, v), the
  pre-MLP norm (read by gate, up) and the final norm (read by the LM head).
- *Output-Norm*: a norm on a branch output before the residual add; only ``arch: sandwich`` has them
  (Gemma 2/3 style: ``x + gamma_out * RMSNorm(branch(...))``).

The eight variants:

==========  ====================================================================================
baseline    one learnable gamma per norm (init 1), no weight decay on any gamma
no_scale    every gamma removed: the norms are bare ``x / rms(x)`` (no parameter)
wd_input    baseline + weight decay on the Input-Norm gammas
wd_output   baseline + weight decay on the Output-Norm gammas (needs ``arch: sandwich``)
branch      an Input-Norm keeps one gamma *per linear map that reads it* (q, k, v; gate, up; head)
            instead of one shared gamma; Output-Norms (read by no linear map) keep one gamma
placement   a second learnable vector on the output side of each linear map that follows a norm:
            the map becomes ``diag(gamma_out) W diag(gamma_in)`` (gamma_out init 1)
md          every scale vector is reparameterised as ``gamma = g * sqrt(d) * v / ||v||`` with a scalar
            magnitude g (init 1) and a direction v (init 1, so gamma = 1 at init)
unified     branch + placement + md, with weight decay on Input-Norm scales (the Input-Norm gammas and
            the placement vectors that belong to them) and none on Output-Norm scales
==========  ====================================================================================

Architecture choice (fairness): every variant of a run shares one architecture, the run's ``arch`` config
key, so a variant differs from baseline in its scale vectors only. ``ScaleFlags.arch`` (default ``None`` =
the run's arch) exists for variants defined in code that must pin an architecture; none of the eight does.
``wd_output`` is meaningless without Output-Norms, so :func:`resolve_arch` raises a clear ``ValueError`` when
it would run with ``arch: prenorm``; the default config therefore uses ``arch: sandwich``, where all eight
variants are defined (a Pre-Norm study drops ``wd_output`` from the variants list).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ARCHS = ("prenorm", "sandwich")


@dataclass(frozen=True)
class ScaleFlags:
    """Composable switches for the scale vectors of one model.

    Attributes:
        learnable: gammas exist as parameters; ``False`` removes every gamma (fixed to 1, no parameter).
        wd_input: weight decay on Input-Norm scales (their gammas, and placement vectors when present).
        wd_output: weight decay on Output-Norm gammas (``arch: sandwich`` only).
        branch: one gamma per linear map reading an Input-Norm instead of one shared gamma per norm.
        placement: an extra vector ``gamma_out`` after each linear map that reads a norm.
        md: magnitude-direction form ``gamma = g * sqrt(d) * v / ||v||`` for every scale vector.
        arch: pin the architecture (``prenorm`` / ``sandwich``); ``None`` uses the run's ``arch``.
    """

    learnable: bool = True
    wd_input: bool = False
    wd_output: bool = False
    branch: bool = False
    placement: bool = False
    md: bool = False
    arch: str | None = None

    def __post_init__(self) -> None:
        if not self.learnable and (
            self.wd_input or self.wd_output or self.branch or self.placement or self.md
        ):
            raise ValueError("learnable=False removes every scale vector; no other scale flag can be set")
        if self.arch is not None and self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; allowed: {', '.join(ARCHS)}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


VARIANTS: dict[str, ScaleFlags] = {
    "baseline": ScaleFlags(),
    "no_scale": ScaleFlags(learnable=False),
    "wd_input": ScaleFlags(wd_input=True),
    "wd_output": ScaleFlags(wd_output=True),
    "branch": ScaleFlags(branch=True),
    "placement": ScaleFlags(placement=True),
    "md": ScaleFlags(md=True),
    "unified": ScaleFlags(branch=True, placement=True, md=True, wd_input=True),
}


def get_variant(name: str) -> ScaleFlags:
    """The flags of a named variant; ``ValueError`` listing the names for an unknown one."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; allowed: {', '.join(VARIANTS)}") from None


def resolve_arch(flags: ScaleFlags, run_arch: str) -> str:
    """The architecture a variant trains with: its pinned ``arch`` or the run's.

    Raises ``ValueError`` for an unknown architecture and for weight decay on Output-Norm gammas in an
    architecture that has no Output-Norms (``prenorm``).
    """
    arch = flags.arch or run_arch
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; allowed: {', '.join(ARCHS)}")
    if flags.wd_output and arch != "sandwich":
        raise ValueError(
            "weight decay on Output-Norm gammas needs arch 'sandwich' (Pre-Norm has no Output-Norms); "
            "set llm.arch: sandwich or drop this variant"
        )
    return arch
