"""Automatic parameters: rules in the noise level, fitted on BSDS500 training images.

Every ``None`` ('auto') parameter of a noise-aware denoiser is
``rule(name, sigma, color=...)``. The coefficients live in
:mod:`imagewizard.tasks.denoise.rules_fitted`, which
``benchmarks/tools/fit_denoise_rules.py`` writes; ``docs/denoise-rules.md`` says
how they were fitted and how well the rules fit.

A rule has one of these forms in the noise level ``s`` (0..255 scale,
floored at 1 so that ``s = 0`` stays finite):

* ``power``:        ``a * s**b``
* ``offset-power``: ``c + a * s**b`` (a power law levelling off at ``c``)
* ``linear``:       ``a + b * s``

and is clamped to ``[lo, hi]`` (about the range the search covered).
"""

from __future__ import annotations

from imagewizard.tasks.denoise.rules_fitted import FITTED

#: Noise levels below this are treated as this (keeps power laws finite at 0).
SIGMA_FLOOR = 1.0


def rule(name: str, sigma: float, *, color: bool = False) -> float:
    """The fitted value of parameter ``name`` at noise level ``sigma`` (0..255 scale).

    Parameters
    ----------
    name : str
        Rule name, ``"<method>.<parameter>"`` (e.g. ``"tv.weight_chambolle"``).
    sigma : float
        Noise standard deviation on the 0..255 scale.
    color : bool
        Use the rule fitted on colour images where one exists.

    Examples
    --------
    >>> rule("tv.weight_chambolle", 25) < rule("tv.weight_chambolle", 50)
    True
    """
    entry = FITTED[name]
    coef = entry.get("color" if color else "gray") or entry["gray"]
    s = max(float(sigma), SIGMA_FLOOR)
    if coef["form"] == "power":
        value = coef["a"] * s ** coef["b"]
    elif coef["form"] == "offset-power":
        value = coef["c"] + coef["a"] * s ** coef["b"]
    elif coef["form"] == "linear":
        value = coef["a"] + coef["b"] * s
    else:  # pragma: no cover - the fit script writes only these forms
        raise ValueError(f"unknown rule form {coef['form']!r}")
    return float(min(max(value, coef["lo"]), coef["hi"]))


def names() -> list[str]:
    """All rule names."""
    return sorted(FITTED)
