"""Property-based fuzzing (Hypothesis) of what users type: specs, parameters, pipeline files.

Whatever the text, the answer is a result or one :class:`ImageWizardError` with a one-line
message; never another exception.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from imagewizard.core.errors import ImageWizardError  # noqa: E402

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
SPECISH = st.one_of(
    TEXT,
    st.builds(
        lambda n, a: f"{n}:{a}",
        st.sampled_from(
            ["gaussian", "motion", "disk", "box", "salt-pepper", "speckle", "poisson", "pixels", "lines", "text"]
        ),
        st.text(alphabet="0123456789.,-e+naif ", max_size=16),
    ),
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    TEXT,
    st.lists(st.integers(-3, 3), max_size=3),
)
# `make test` runs a short seeded slice; `make fuzz` sets IMAGEWIZARD_FUZZ_EXAMPLES for a long random run
EXAMPLES = int(os.environ.get("IMAGEWIZARD_FUZZ_EXAMPLES", "150"))
FAST = settings(max_examples=EXAMPLES, deadline=None, derandomize="IMAGEWIZARD_FUZZ_EXAMPLES" not in os.environ)


def _one_line_error(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ImageWizardError as exc:
        assert "\n" not in str(exc) and str(exc).strip()


@FAST
@given(SPECISH)
def test_kernel_specs(spec):
    from imagewizard.physics.kernels import resolve_kernel

    _one_line_error(resolve_kernel, spec)


@FAST
@given(SPECISH)
def test_noise_and_mask_specs(spec):
    from imagewizard.physics.degrade import degrade

    img = np.full((12, 12), 0.5, np.float32)
    _one_line_error(degrade, img, noise=[spec], seed=0)
    _one_line_error(degrade, img, mask=spec, seed=0)


@FAST
@given(
    st.sampled_from(["median", "nlm", "clahe", "wiener", "unsharp", "tv"]),
    st.dictionaries(
        st.sampled_from(["size", "h", "clip_limit", "weight", "radius", "amount", "x"]), SCALAR, max_size=3
    ),
)
def test_method_parameters(method, params):
    from imagewizard.run.pipeline import _task_of
    from imagewizard.core.registry import get

    m = get(_task_of(method, "test"), method)
    _one_line_error(m.bind, params)


STEP = st.dictionaries(
    st.sampled_from(["task", "method", "params", "sigma", "kernel", "mask", "reference", "x"]),
    st.one_of(
        SCALAR,
        st.sampled_from(["median", "nlm", "telea", "wiener", "denoise", "auto", "gaussian:2", "{stem}-mask.png"]),
        st.dictionaries(TEXT, SCALAR, max_size=2),
    ),
    max_size=5,
)


@FAST
@given(st.one_of(SCALAR, st.lists(STEP, max_size=3), st.fixed_dictionaries({"steps": st.lists(STEP, max_size=3)})))
def test_pipeline_documents(doc):
    from imagewizard.run.pipeline import Pipeline

    _one_line_error(Pipeline.from_dict, doc)
