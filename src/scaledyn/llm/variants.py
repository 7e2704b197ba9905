"""Scale-vector variants of study 002 (paper 002, "Negligible in Size, Significant in Effect").

A variant is a set of composable flags (:class:`ScaleFlags`) and a seed stream; :data:`VARIANTS` names the
nine the study can train. The flags only change the *scale vectors* (the gains gamma of the RMSNorm layers and
the extra vectors some variants add); every weight matrix, its initialisation and the data order are the same
for all variants of a seed on the same stream (see :mod:`scaledyn.llm.model` and :mod:`scaledyn.llm.batches`).

Vocabulary (our definitions; the paper's text beyond its abstract is not available):

- *Input-Norm*: a norm whose output feeds linear maps: the pre-attention norm (read by q, k, v), the
  pre-MLP norm (read by gate, up) and the final norm (read by the LM head).
- *Output-Norm*: a norm on a branch output before the residual add; only ``arch: sandwich`` has them
  (Gemma 2/3 style: ``x + gamma_out * RMSNorm(branch(...))``).

The variants (:data:`VARIANTS`):

===========  ===================================================================================
baseline     one learnable gamma per norm (init 1), no weight decay on any gamma
baseline_aa  baseline's flags on another seed stream (:data:`STREAMS`): the A/A arm
no_scale     every gamma removed: the norms are bare ``x / rms(x)`` (no parameter)
wd_input     baseline + weight decay on the Input-Norm gammas
wd_output    baseline + weight decay on the Output-Norm gammas (needs ``arch: sandwich``)
branch       an Input-Norm keeps one gamma *per linear map that reads it* (q, k, v; gate, up; head)
             instead of one shared gamma; Output-Norms (read by no linear map) keep one gamma
placement    a second learnable vector on the output side of each linear map that follows a norm:
             the map becomes ``diag(gamma_out) W diag(gamma_in)`` (gamma_out init 1)
md           every scale vector is reparameterised as ``gamma = g * sqrt(d) * v / ||v||`` with a scalar
             magnitude g (init 1) and a direction v (init 1, so gamma = 1 at init)
unified      branch + placement + md, with weight decay on Input-Norm scales (the Input-Norm gammas and
             the placement vectors that belong to them) and none on Output-Norm scales
===========  ===================================================================================

Seed streams (:data:`STREAMS`): every variant of a seed shares the weight matrices at init and the batches
in the same order (paired comparison), because the variant is not a seed key. A variant with a stream adds
its components to the init and batch seed keys (:func:`stream_of`), so ``baseline_aa`` trains baseline on
other init and data draws: its difference to baseline is pure seed-to-seed noise, the noise floor the other
comparisons are read against (its interval must cover 0).

Arms (fairness): the config key ``llm.arms`` maps an architecture to the variants trained in it, each
architecture with its own reference (``baseline``), so a variant differs from its reference in its scale
vectors only. The default trains the removal, branch, placement, md and unified variants in Pre-Norm (the
paper's claims about them are about Pre-Norm) and the weight-decay pair in sandwich (only sandwich has
Output-Norms); :func:`check_arms` is the rule (``wd_output`` only under sandwich, every list holds the
reference). ``ScaleFlags.arch`` (default ``None`` = the run's arch) exists for variants defined in code that
must pin an architecture; none of the registry's does.
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
    "baseline_aa": ScaleFlags(),
    "no_scale": ScaleFlags(learnable=False),
    "wd_input": ScaleFlags(wd_input=True),
    "wd_output": ScaleFlags(wd_output=True),
    "branch": ScaleFlags(branch=True),
    "placement": ScaleFlags(placement=True),
    "md": ScaleFlags(md=True),
    "unified": ScaleFlags(branch=True, placement=True, md=True, wd_input=True),
}


# Extra components of a variant's init and batch seed keys; none (the default) for every other variant.
STREAMS: dict[str, tuple[str, ...]] = {"baseline_aa": ("aa",)}
UNION = "unified"  # the union of the proposed changes (paper 002's C4 and C5)


def stream_of(name: str) -> tuple[str, ...]:
    """The seed stream of a variant: ``()`` shares the reference's init and data order."""
    return STREAMS.get(name, ())


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
            "put it under llm.arms.sandwich"
        )
    return arch


def check_arms(arms: dict[str, list[str]], reference: str, key: str = "llm.arms") -> tuple[str, str] | None:
    """The first problem of an arms map (``llm.arms`` or a size's, at ``key``) as ``(key, message)``, or
    ``None``: every variant known and runnable in its architecture (``wd_output`` needs sandwich), every list
    holding the reference."""
    for arch, names in arms.items():
        for name in names:
            try:
                resolve_arch(get_variant(name), arch)
            except ValueError as exc:
                return f"{key}.{arch}", f"{name}: {exc}"
        if reference not in names:
            return (
                f"{key}.{arch}",
                f"{reference!r} (llm.claims.reference) is missing: each architecture's arms are compared "
                "with its own reference",
            )
    return None
