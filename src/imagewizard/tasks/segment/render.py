"""Label maps: numbering, a bounded working size, and what a person sees (overlay, JSON summary)."""

from __future__ import annotations

import numpy as np

#: Region methods work on at most this many pixels; larger photos are segmented shrunk (area
#: averaging) and the labels scaled back (nearest), so a 12 MP photo needs bounded memory.
WORK_PIXELS = 2_000_000


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels compacted to 1..n (int32), keeping their order.

    Examples
    --------
    >>> relabel(np.array([[5, 5, 9], [0, 0, 9]])).tolist()
    [[2, 2, 3], [1, 1, 3]]
    """
    from skimage.segmentation import relabel_sequential

    lab = np.asarray(labels)
    if lab.size == 0:
        return lab.astype(np.int32)
    return relabel_sequential(lab.astype(np.int64) - int(lab.min()) + 1)[0].astype(np.int32)


def mean_colours(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean colour of each region, (n + 1, channels), row ``k`` for label ``k`` (row 0 unused)."""
    from scipy import ndimage as ndi

    img = image[..., None] if image.ndim == 2 else image[..., :3]
    n = int(labels.max())
    idx = np.arange(n + 1)
    out = np.zeros((n + 1, img.shape[2]), np.float32)
    with np.errstate(invalid="ignore"):  # labels with no pixel: NaN, set to 0 below
        for c in range(img.shape[2]):
            out[:, c] = ndi.mean(img[..., c], labels, idx)
    return np.nan_to_num(out)


def overlay(image: np.ndarray, labels: np.ndarray, *, fill: float = 0.45, colour=(1.0, 0.1, 0.1)) -> np.ndarray:
    """The photo with each region tinted towards its mean colour and boundaries drawn (RGB float).

    ``fill`` is how much of the mean colour replaces the photo (0: boundaries only).
    """
    from imagewizard.analysis.segmentation import label_boundaries

    img = np.asarray(image, np.float32)
    rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
    lab = np.asarray(labels)
    means = mean_colours(rgb, lab)
    out = (1 - fill) * rgb + fill * means[lab]
    edge = label_boundaries(lab)
    # two pixels wide on large images, so the lines stay visible when the picture is shrunk to a screen
    if max(lab.shape) > 1200:
        from scipy.ndimage import binary_dilation

        edge = binary_dilation(edge)
    out[edge] = colour
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def boundary_image(boundaries: np.ndarray) -> np.ndarray:
    """A soft boundary map as a gray image (white = certain boundary)."""
    return np.clip(np.asarray(boundaries, np.float32), 0.0, 1.0)


def summary(image: np.ndarray, labels: np.ndarray, *, largest: int = 50) -> dict:
    """Regions, their sizes and mean colours (the ``largest`` biggest listed), as plain data."""
    lab = np.asarray(labels)
    sizes = np.bincount(lab.ravel())
    means = mean_colours(np.asarray(image, np.float32), lab)
    order = [int(k) for k in np.argsort(-sizes) if k > 0 and sizes[k] > 0][:largest]
    total = lab.size
    return {
        "regions": int((sizes[1:] > 0).sum()),
        "height": int(lab.shape[0]),
        "width": int(lab.shape[1]),
        "largest_regions": [
            {
                "label": k,
                "pixels": int(sizes[k]),
                "fraction": round(float(sizes[k]) / total, 5),
                "mean_colour": [round(float(v), 4) for v in means[k]],
            }
            for k in order
        ],
    }


def working_size(img: np.ndarray, max_pixels: int = WORK_PIXELS) -> tuple[np.ndarray, float]:
    """The image shrunk (area averaging) to at most ``max_pixels``, and the factor used (1: unchanged)."""
    h, w = img.shape[:2]
    if h * w <= max_pixels:
        return img, 1.0
    import cv2

    f = (max_pixels / (h * w)) ** 0.5
    small = cv2.resize(
        np.ascontiguousarray(img, np.float32),
        (max(1, round(w * f)), max(1, round(h * f))),
        interpolation=cv2.INTER_AREA,
    )
    return small, f


def back_to_size(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    if labels.shape == tuple(shape):
        return labels
    return cv2.resize(labels.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).astype(np.int32)
