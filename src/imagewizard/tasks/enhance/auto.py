"""The wizard as a method: analyse, plan and run (:mod:`imagewizard.run.wizard`).

Registered so that pipelines and ``imagewizard bench`` can use it like any other method, e.g. to
compare it with every fixed method on a mixed set of degradations.
"""

from __future__ import annotations

import numpy as np

from imagewizard.core.registry import register


@register(
    "enhance",
    "wizard",
    "The wizard: measures noise, impulses, JPEG blocking, blur and contrast, then runs "
    "the steps the image needs (nothing for a clean photo).",
    tags=("auto",),
)
def wizard(img: np.ndarray) -> np.ndarray:
    """Run :func:`imagewizard.run.wizard.auto` and return its result.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((64, 64), 0.5, np.float32)
    >>> bool(np.array_equal(wizard(flat), flat))   # nothing to do: unchanged
    True
    """
    from imagewizard.run.wizard import auto

    out, _, _ = auto(img)
    return out
