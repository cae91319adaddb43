"""Scores of a label map against one or several human segmentations (BSDS500's region measures)."""

from __future__ import annotations

import numpy as np


def score(truth, labels) -> dict[str, float]:
    """Covering, PRI and VI of ``labels`` against ``truth`` (a label map or a list of them)."""
    from imagewizard.analysis.segmentation import region_scores

    truths = truth if isinstance(truth, (list, tuple)) else [np.asarray(truth)]
    s = region_scores(np.asarray(labels), truths)
    return {k: s[k] for k in ("covering", "pri", "vi", "regions")}
