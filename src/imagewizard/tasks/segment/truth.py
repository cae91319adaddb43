"""Human segmentations to score against: BSDS500's ``.mat`` files, or label-map images.

BSDS500 stores, per image, a MATLAB v5 struct array ``groundTruth`` with one entry per annotator
(4-9), each a ``Segmentation`` label map (uint16, labels from 1) and a ``Boundaries`` map. Read
through the guarded reader (size limits; never an arbitrary pickle: ``loadmat`` only builds arrays).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from imagewizard.core.errors import ParameterError


def read_bsds_truth(path: str | Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``([label maps], [boundary maps])`` of every annotator in a BSDS500 ground-truth ``.mat``.

    Examples
    --------
    >>> import scipy.io, tempfile, os
    >>> seg = np.array([[1, 1, 2], [1, 2, 2]], np.uint16)
    >>> gt = np.empty((1, 1), object)  # a cell of structs, one per annotator, as BSDS500 stores it
    >>> gt[0, 0] = {"Segmentation": seg, "Boundaries": np.zeros((2, 3), np.uint8)}
    >>> p = os.path.join(tempfile.mkdtemp(), "x.mat"); scipy.io.savemat(p, {"groundTruth": gt})
    >>> segs, bnds = read_bsds_truth(p); segs[0].tolist()
    [[1, 1, 2], [1, 2, 2]]
    """
    import scipy.io

    from imagewizard.io.files import read_input_bytes

    data = read_input_bytes(path, what="ground truth")
    try:
        m = scipy.io.loadmat(io.BytesIO(data))
        gt = m["groundTruth"]
        segs, bnds = [], []
        for entry in gt.ravel():
            segs.append(np.asarray(entry["Segmentation"][0, 0]).astype(np.int32))
            bnds.append(np.asarray(entry["Boundaries"][0, 0]).astype(bool))
    except Exception:  # scipy raises many kinds on a damaged or foreign file; one line for the user
        raise ParameterError(f"cannot read ground truth {path}: not a BSDS500 groundTruth .mat file") from None
    if not segs:
        raise ParameterError(f"{Path(path).name}: no human segmentation in it")
    return segs, bnds


def read_truth(path: str | Path) -> list[np.ndarray]:
    """Label maps from a ``.mat`` (all annotators) or one label-map image (PNG/TIFF, integer values)."""
    p = Path(path)
    if p.suffix.lower() == ".mat":
        return read_bsds_truth(p)[0]
    from imagewizard.io.labels import read_labels

    return [read_labels(p)]
