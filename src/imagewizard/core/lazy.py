"""Heavy dependencies imported on first use, so that declaring methods costs nothing.

A method module declares its methods at import (the registry reads the declarations for ``--help``,
``imagewizard methods`` and the API's docstrings), but SciPy, scikit-image, OpenCV and PyWavelets
are only needed when a method runs: ``cv2 = lazy("cv2")`` and ``denoise_wavelet =
lazy("skimage.restoration", "denoise_wavelet")`` stand in for the module and the function until
the first attribute access or call.

Examples
--------
>>> ndimage = lazy("scipy.ndimage")
>>> float(ndimage.uniform_filter([1.0, 2.0, 3.0], size=3, mode="nearest")[1])
2.0
"""

from __future__ import annotations

import importlib
from typing import Any


class lazy:  # noqa: N801 - used like the import statement it replaces
    """A module (or one of its attributes) imported on first use."""

    __slots__ = ("_module", "_attr", "_obj")

    def __init__(self, module: str, attr: str | None = None):
        self._module, self._attr, self._obj = module, attr, None

    def _load(self) -> Any:
        if self._obj is None:
            obj = importlib.import_module(self._module)
            self._obj = getattr(obj, self._attr) if self._attr else obj
        return self._obj

    def __getattr__(self, name: str) -> Any:
        return getattr(self._load(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._load()(*args, **kwargs)

    def __repr__(self) -> str:
        what = f"{self._module}.{self._attr}" if self._attr else self._module
        return f"<lazy {what}{' (loaded)' if self._obj is not None else ''}>"
