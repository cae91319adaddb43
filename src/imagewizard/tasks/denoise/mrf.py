"""MAP denoising with a Markov-random-field prior, solved with L-BFGS-B.

The estimate minimises ``E(x) = alpha * sum_i (y_i - x_i)^2 + sum_{i~j} g(x_i - x_j)``
over the 4-neighbour pairs ``i~j``, with ``g`` quadratic (``u^2``, a
Gaussian MRF: smooths edges too) or Huber (``u^2`` for ``|u| <= delta``,
``2 delta |u| - delta^2`` beyond: large jumps cost only linearly, so edges
survive).
"""

from __future__ import annotations

import numpy as np
from imagewizard.core.lazy import lazy
from imagewizard.core.registry import Param, register
from imagewizard.tasks.denoise.opponent import per_opponent_channel
from imagewizard.tasks.denoise.rules import rule

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
minimize = lazy("scipy.optimize", "minimize")

PRIORS = ("huber", "quadratic")


def _potential(u: np.ndarray, prior: str, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """g(u) and g'(u)."""
    if prior == "quadratic":
        return u * u, 2.0 * u
    a = np.abs(u)
    inside = a <= delta
    g = np.where(inside, u * u, 2.0 * delta * a - delta * delta)
    return g, 2.0 * np.clip(u, -delta, delta)


def mrf_energy(
    x: np.ndarray, y: np.ndarray, *, alpha: float, prior: str = "huber", delta: float = 0.1
) -> tuple[float, np.ndarray]:
    """The MAP objective and its gradient with respect to ``x`` (both HxW).

    Parameters
    ----------
    x, y : ndarray
        Current estimate and noisy image, HxW.
    alpha : float
        Weight of the data term.
    prior : {'huber', 'quadratic'}
        Pair potential ``g``.
    delta : float
        Huber threshold in image units.

    Returns
    -------
    energy : float
    gradient : ndarray
        float64, same shape as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((4, 4)); e, g = mrf_energy(y, y, alpha=1.0)
    >>> float(e), float(np.abs(g).max())
    (0.0, 0.0)
    """
    x = np.asarray(x, np.float64)
    r = x - y
    energy = alpha * float(np.sum(r * r))
    grad = 2.0 * alpha * r
    for axis in (0, 1):
        d = np.diff(x, axis=axis)  # x_{i+1} - x_i
        g, dg = _potential(d, prior, delta)
        energy += float(np.sum(g))
        lead = [slice(None)] * 2
        lead[axis] = slice(1, None)
        trail = [slice(None)] * 2
        trail[axis] = slice(None, -1)
        grad[tuple(lead)] += dg
        grad[tuple(trail)] -= dg
    return energy, grad


def mrf_map(
    y: np.ndarray, *, alpha: float, prior: str = "huber", delta: float = 0.1, iterations: int = 100
) -> np.ndarray:
    """MAP estimate of a gray image under the MRF prior (L-BFGS-B from ``x0 = y``).

    Uses :func:`scipy.optimize.minimize` with the analytic gradient of
    :func:`mrf_energy`. Starting from the noisy image (rather than zeros)
    reaches the minimum in far fewer iterations.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = 0.5 + 0.1 * rng.standard_normal((16, 16))
    >>> bool(mrf_map(y, alpha=0.5, prior="quadratic").std() < y.std())
    True
    """
    y64 = np.asarray(y, np.float64)
    shape = y64.shape

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        e, g = mrf_energy(flat.reshape(shape), y64, alpha=alpha, prior=prior, delta=delta)
        return e, g.ravel()

    res = minimize(
        fun, y64.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": int(iterations), "ftol": 1e-10, "gtol": 1e-8}
    )
    return res.x.reshape(shape).astype(np.float32)


@register(
    "denoise",
    "mrf-map",
    "MAP estimate under a Markov-random-field prior (quadratic or Huber), solved with L-BFGS-B.",
    params=[
        Param(
            "prior",
            str,
            "huber",
            "pair potential over 4-neighbours: 'huber' (quadratic up to "
            "delta, linear beyond: keeps edges) or 'quadratic' (Gaussian MRF)",
            choices=PRIORS,
        ),
        Param(
            "alpha",
            float,
            None,
            "weight of the data term alpha * (y - x)^2 against the prior; "
            "smaller = smoother; auto: fitted rule in sigma (per prior)",
            low=1e-4,
            high=1e4,
        ),
        Param(
            "delta",
            float,
            None,
            "huber only: neighbour difference on the 0..255 scale where the "
            "potential turns linear (differences above it are treated as edges); auto: fitted "
            "rule in sigma",
            low=0.01,
            high=255,
        ),
        Param("iterations", int, 100, "maximum L-BFGS-B iterations", low=1, high=10000),
    ],
    sigma="auto",
    halo=32,
    tags=("variational", "bayesian"),
)
def mrf(
    img: np.ndarray,
    *,
    sigma: float,
    prior: str = "huber",
    alpha: float | None = None,
    delta: float | None = None,
    iterations: int = 100,
) -> np.ndarray:
    """MAP denoising with a 4-neighbour MRF prior; parameters from the noise level.

    See :func:`mrf_map` and :func:`mrf_energy`. Colour images are solved per
    channel in an orthonormal opponent space (see :mod:`.opponent`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = (0.5 + 0.1 * rng.standard_normal((32, 32))).astype(np.float32)
    >>> bool(mrf(noisy, sigma=25.5).std() < noisy.std() / 2)
    True
    """
    color = img.ndim == 3
    if alpha is None:
        alpha = rule(f"mrf-map.alpha_{prior}", sigma, color=color)
    if delta is None:
        delta = rule("mrf-map.delta_huber", sigma, color=color) if prior == "huber" else 1.0
    return per_opponent_channel(
        lambda ch: mrf_map(ch, alpha=alpha, prior=prior, delta=delta / 255.0, iterations=iterations), img
    )
