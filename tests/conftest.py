"""Fixtures shared by the test files: small crops of scikit-image's sample photos (public domain),
the images most tests run on."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photo():
    """``photo(name, rows, cols, dtype)``: a crop of ``skimage.data.<name>()`` scaled to [0, 1].

    >>> photo("camera", slice(160, 224), slice(200, 264)).shape     # doctest: +SKIP
    (64, 64)
    """
    from skimage import data

    loaded: dict[str, np.ndarray] = {}

    def crop(name: str, rows=slice(None), cols=slice(None), dtype=np.float32) -> np.ndarray:
        if name not in loaded:
            loaded[name] = getattr(data, name)()
        return (loaded[name][rows, cols] / 255.0).astype(dtype)

    return crop


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    """Exported ONNX graphs go to a per-run folder, never into the user's ~/.cache."""
    import os

    old = os.environ.get("IMAGEWIZARD_CACHE")
    os.environ["IMAGEWIZARD_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))
    yield
    if old is None:
        os.environ.pop("IMAGEWIZARD_CACHE", None)
    else:
        os.environ["IMAGEWIZARD_CACHE"] = old
