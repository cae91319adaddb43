"""ImageWizard: repair, enhance and measure images.

Plain functions on float32 arrays in [0, 1] (HxW gray or HxWx3 RGB)::

    import imagewizard as iw
    img, meta = iw.read("photo.png")
    clean = iw.denoise(img, method="nlm", sigma="auto")
    iw.write("photo-clean.png", clean, like=meta)
    print(iw.metrics.psnr(img, clean))

Submodules are imported on first use, so ``import imagewizard`` stays fast
(the CLI starts without loading SciPy, OpenCV or PyTorch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module, attribute or None for the module itself)
_LAZY = {
    "apply": ("imagewizard.api", "apply"),
    "denoise": ("imagewizard.api", "denoise"),
    "deblur": ("imagewizard.api", "deblur"),
    "inpaint": ("imagewizard.api", "inpaint"),
    "enhance": ("imagewizard.api", "enhance"),
    "read": ("imagewizard.io", "read"),
    "write": ("imagewizard.io", "write"),
    "ImageInfo": ("imagewizard.io", "ImageInfo"),
    "ImageWizardError": ("imagewizard.core.errors", "ImageWizardError"),
    "metrics": ("imagewizard.analysis.metrics", None),
    "degrade": ("imagewizard.physics.degrade", None),
    "estimate": ("imagewizard.analysis.estimate", None),
    "kernels": ("imagewizard.physics.kernels", None),
    "registry": ("imagewizard.core.registry", None),
    "wizard": ("imagewizard.run.wizard", None),
    "Pipeline": ("imagewizard.run.pipeline", "Pipeline"),
}

__all__ = ["__version__", *_LAZY]

# modules that moved in the 0.2 re-layout stay importable by their old paths
from imagewizard.core import moved as _moved  # noqa: E402

_moved.install()


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        # every declared task has its function (imagewizard.denoise, and a plugin's task alike)
        from imagewizard.core.task import _TASKS, _discover

        _discover()
        if name in _TASKS:
            from imagewizard import api

            return getattr(api, name)
        raise AttributeError(f"module 'imagewizard' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from imagewizard import degrade, estimate, kernels, metrics, registry, wizard  # noqa: F401
    from imagewizard.api import apply, deblur, denoise, enhance, inpaint  # noqa: F401
    from imagewizard.core.errors import ImageWizardError  # noqa: F401
    from imagewizard.io import ImageInfo, read, write  # noqa: F401
    from imagewizard.run.pipeline import Pipeline  # noqa: F401
