"""ImageWizard: repair, enhance and measure images.

Plain functions on float32 arrays in [0, 1] (HxW gray or HxWx3 RGB)::

    import imagewizard as iw
    img, meta = iw.read("photo.png")
    clean = iw.denoise(img, method="nlm", sigma="auto")
    iw.write("photo-clean.png", clean, like=meta)
    print(iw.metrics.psnr(img, clean))
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import metrics, registry
from .api import apply, deblur, denoise, enhance, inpaint
from .errors import ImageWizardError
from .io import ImageInfo, read, write

__all__ = [
    "__version__", "apply", "deblur", "denoise", "enhance", "inpaint", "metrics", "registry",
    "read", "write", "ImageInfo", "ImageWizardError",
]
