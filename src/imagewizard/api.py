"""Task functions of the Python API: ``denoise``, ``deblur``, ``inpaint``, ``enhance`` (one per task).

Each is generated from its task's declaration (:mod:`imagewizard.core.task`), with a docstring
that lists the task's methods and their parameters. They all go through :func:`apply`, which looks the method up in the
registry, validates parameters, resolves the noise level (``sigma='auto'``
estimates it), handles colour the way the method declares, carries an alpha
channel through untouched and returns float32 in [0, 1].
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from imagewizard.core import registry
from imagewizard.core.arrays import as_float_image, join_alpha, per_channel, split_alpha
from imagewizard.core.errors import ImageWizardWarning, ParameterError

#: Noise levels are on the 0..255 scale; beyond this nothing is recognisable.
MAX_SIGMA = 255.0


class _DefaultMethods(Mapping):
    """The method each task uses when none is named, read from the task declarations on each access."""

    def _current(self) -> dict[str, str]:
        from imagewizard.core.task import all_tasks

        return {t.name: t.default_method for t in all_tasks()}

    def __getitem__(self, key: str) -> str:
        return self._current()[key]

    def __iter__(self):
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __repr__(self) -> str:
        return repr(self._current())


#: The method each task uses when none is named (the CLI reads this too).
DEFAULT_METHODS = _DefaultMethods()


#: The strength dial's range: 0 = off, 1 = as measured, up to 4 times as strong.
STRENGTH_RANGE = (0.0, 4.0)


def check_strength(strength: Any, where: str = "strength") -> float:
    """``strength`` as a float in :data:`STRENGTH_RANGE`, or a one-line error."""
    lo, hi = STRENGTH_RANGE
    if isinstance(strength, bool):
        raise ParameterError(f"{where} must be a number from {lo:g} to {hi:g}, got {strength!r}")
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise ParameterError(f"{where} must be a number from {lo:g} to {hi:g}, got {strength!r}") from None
    if not lo <= value <= hi:  # NaN fails this too
        raise ParameterError(f"{where} must be from {lo:g} (off) to {hi:g}, got {strength!r}")
    return value


def resolve_sigma(img: np.ndarray, sigma: Any) -> float:
    """Return a noise level on the 0..255 scale: a number as given, or estimated for ``None``/``'auto'``."""
    if sigma is None or (isinstance(sigma, str) and sigma.strip().lower() == "auto"):
        from imagewizard.analysis.estimate import noise_sigma

        return float(noise_sigma(img))
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise ParameterError(f"sigma must be a number on the 0..255 scale or 'auto', got {sigma!r}") from None
    if not (0.0 <= value <= MAX_SIGMA):  # NaN fails this too
        raise ParameterError(f"sigma must be in [0, 255] (0..255 scale), got {value:g}")
    if 0.0 < value < 1.0:
        warnings.warn(
            f"sigma={value:g} is on the 0..255 scale (under one grey level); for a noise std of "
            f"{value:g} on the 0..1 scale give sigma={value * 255:.4g}",
            ImageWizardWarning,
            stacklevel=3,
        )
    return value


def sigma_for(method: "registry.Method", image: np.ndarray, sigma: Any) -> float | None:
    """The noise level ``method`` will receive: given, estimated (``None``/``'auto'``), or ``None``.

    Methods declared ``sigma='optional'`` get ``None`` when no level is given (their own default).
    """
    is_auto = sigma is None or (isinstance(sigma, str) and sigma.strip().lower() == "auto")
    if method.sigma == "none":
        if not is_auto:
            # A noise level given to a method that does not use one is almost surely a mistake.
            raise ParameterError(f"method '{method.name}' does not use a noise level; drop sigma")
        return None
    if method.sigma == "optional" and sigma is None:
        return None
    return resolve_sigma(image, sigma)


def apply(task: str, img, method: str, *, sigma: Any = None, strength: Any = None, **params: Any) -> np.ndarray:
    """Run registered method ``method`` of ``task`` on ``img``.

    Parameters
    ----------
    task : str
        A declared task: ``'denoise'``, ``'deblur'``, ``'inpaint'`` or ``'enhance'``
        (``imagewizard tasks`` lists them).
    img : array_like
        HxW, HxWx3 or HxWx4 (alpha is carried through untouched); uint8,
        uint16 or float (float may leave [0, 1], e.g. unclipped noise).
    method : str
        Registered method name (``imagewizard methods`` lists them).
    sigma : float or 'auto', optional
        Noise standard deviation on the 0..255 scale, for methods that use
        it; ``None``/``'auto'`` estimates it from the image.
    strength : float, optional
        For tasks with the dial (denoise, enhance; ``Task.strength``): 0 = off (the input comes
        back), 1 = as measured (the default), above 1 = stronger, up to 4. A method with a
        ``strength`` parameter of its own takes it (the real-photo denoiser scales its noise
        map); a method with a noise level runs at ``strength * sigma``; any other method's change
        is scaled: ``img + strength * (result - img)``.
    **params
        The task's inputs by name (deblur: ``kernel``, an array, a spec such as
        ``'gaussian:2'`` or ``'motion:15,30'``, or an image/.npy file; inpaint: ``mask``, True
        where pixels are missing; enhance: ``reference``, an image) and the method's own
        parameters (see its declaration).

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], same shape as ``img``, whatever the input's type: uint8 input (0..255)
        and uint16 input (0..65535) come back scaled to [0, 1], not in their own range.

    Raises
    ------
    ParameterError
        Unknown method or parameter, a value out of range, a missing kernel or mask, or an image
        smaller than the method's declared ``min_size``.
    """
    from imagewizard.core.task import task_or_generic

    t = task_or_generic(task)
    given = {i.name: params.pop(i.name, None) for i in t.inputs}
    m = registry.get(task, method)
    m.check_available(params)
    image = as_float_image(img, allow_alpha=True)
    image, alpha = split_alpha(image)
    m.check_size(image.shape)
    bound = m.bind(params)
    if m.color == "gray" and image.ndim == 3:
        raise ParameterError(f"method '{m.name}' works on gray images only; convert with --gray or pick another method")
    kwargs: dict[str, Any] = dict(bound)
    own_strength = "strength" in bound  # the method has its own dial (the real-photo denoiser)
    if strength is not None:
        if not t.strength:
            raise ParameterError(f"task '{t.name}' has no strength control; drop strength")
        strength = check_strength(strength)
        if own_strength:
            if "strength" in params:
                raise ParameterError(f"give strength once (method '{m.name}' takes it as its own parameter)")
            kwargs["strength"] = strength
    for what, value in given.items():
        if what in m.needs and value is None:
            raise ParameterError(f"method '{m.name}' needs a {what}: {what}= {t.input(what).summary}")
        if value is not None and what not in m.needs | m.accepts:
            raise ParameterError(f"method '{m.name}' does not use a {what}; drop it")
    dial = None if own_strength else strength  # what apply itself does with the strength
    if dial == 0.0:  # off: the input back, nothing estimated or run
        if m.sigma == "none" and not (sigma is None or str(sigma).strip().lower() == "auto"):
            raise ParameterError(f"method '{m.name}' does not use a noise level; drop sigma")
        return join_alpha(np.clip(image, 0.0, 1.0), None if alpha is None else np.clip(alpha, 0.0, 1.0))
    if m.sigma != "none":
        kwargs["sigma"] = sigma_for(m, image, sigma)
    else:
        sigma_for(m, image, sigma)  # rejects a noise level given to a method that does not use one
    blend = None
    if dial is not None and kwargs.get("sigma") is not None:
        kwargs["sigma"] = min(float(kwargs["sigma"]) * dial, 255.0)  # strength scales the noise level
    elif dial is not None:
        blend = dial  # no level to scale: the change itself is scaled
    for what, value in given.items():
        if value is not None:
            kwargs[what] = t.input(what).resolver()(value, image.shape)

    small = None
    if t.output == "label map" and "threshold" not in m.tags:  # region methods: a bounded working size
        from imagewizard.tasks.segment.render import WORK_PIXELS, working_size

        shrunk, f = working_size(image, WORK_PIXELS)
        small = shrunk if f < 1.0 else None
        if small is not None:  # per-pixel inputs (seeds) follow the image to the working size
            import cv2

            for what in given:
                v = kwargs.get(what)
                if isinstance(v, np.ndarray) and v.shape[:2] == image.shape[:2]:
                    size = (small.shape[1], small.shape[0])
                    kwargs[what] = cv2.resize(v.astype(np.float32), size, interpolation=cv2.INTER_NEAREST).astype(
                        v.dtype
                    )
    work = image if small is None else small
    if m.color == "per-channel" and image.ndim == 3:
        out = per_channel(lambda ch: m.func(ch, **kwargs), work)
    else:
        out = m.func(work, **kwargs)
    if t.output == "label map":  # regions numbered 1..n (int32), the image's height and width; alpha dropped
        from imagewizard.tasks.segment.render import back_to_size, relabel

        labels = np.asarray(out)
        if small is not None:
            labels = back_to_size(labels, image.shape[:2])
        if labels.shape != image.shape[:2]:
            raise RuntimeError(f"{m.key} returned labels of shape {labels.shape} for input {image.shape}")
        return relabel(labels)
    out = np.asarray(out, dtype=np.float32)
    if t.output == "same-shape image" and out.shape != image.shape:
        raise RuntimeError(f"{m.key} returned shape {out.shape} for input {image.shape}")
    if blend is not None and blend != 1.0:
        out = image + np.float32(blend) * (out - image)
    out = np.clip(out, 0.0, 1.0, out=out)
    if alpha is not None and alpha.shape != out.shape[:2]:  # a task of another output size: alpha on its own
        from imagewizard.physics.resize import resize_plane

        alpha = resize_plane(alpha, out.shape[:2])
    # alpha is carried through, but the result keeps the API's promise of [0, 1] in every channel
    return join_alpha(out, None if alpha is None else np.clip(alpha, 0.0, 1.0))


def resolve_kernel_input(kernel: Any, shape: tuple[int, ...]) -> np.ndarray:
    from imagewizard.physics.kernels import resolve_kernel

    if isinstance(kernel, list):  # rows of numbers, as a pipeline file holds them
        kernel = np.asarray(kernel, dtype=np.float64)
    return resolve_kernel(kernel)


def resolve_mask_input(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    return _resolve_mask(mask, shape[:2])


def resolve_reference_input(reference: Any, shape: tuple[int, ...]) -> np.ndarray:
    return _resolve_reference(reference)


def _resolve_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    if isinstance(mask, (str, bytes)) or hasattr(mask, "__fspath__"):
        from imagewizard.io import read

        arr, _ = read(mask)
        mask = arr
    try:
        arr = np.asarray(mask)
    except (TypeError, ValueError):
        arr = np.asarray(None, dtype=object)
    if arr.ndim not in (2, 3) or arr.dtype.kind not in "buif":
        raise ParameterError(f"mask must be a 2-D array or an image file, got {type(mask).__name__} {str(mask)[:40]!r}")
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    if arr.shape != tuple(shape):
        raise ParameterError(f"mask shape {arr.shape} does not match the image {tuple(shape)}")
    if arr.dtype == bool:
        return arr
    if np.issubdtype(arr.dtype, np.integer):
        return arr > 0
    return arr > 0.5


def _resolve_reference(reference: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    if isinstance(reference, (str, bytes)) or hasattr(reference, "__fspath__"):
        from imagewizard.io import read

        reference, _ = read(reference)
    ref, _alpha = split_alpha(as_float_image(reference, name="reference", allow_alpha=True))
    return ref


_EXAMPLES = {
    "denoise": """
    >>> import numpy as np, imagewizard as iw
    >>> noisy = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    >>> iw.denoise(noisy, method="median", size=3).shape
    (32, 32)
""",
    "segment": """
    >>> import numpy as np, imagewizard as iw
    >>> img = np.zeros((32, 32, 3), np.float32); img[:, 16:] = 1.0
    >>> labels = iw.segment(img, method="kmeans", clusters=2)
    >>> labels.dtype.name, int(labels.max())
    ('int32', 2)
""",
}


def _method_lines(task: str) -> list[str]:
    from imagewizard.core.registry import params_text

    lines = []
    for m in registry.methods(task):
        flag = f" [{m.unavailable_flag()}]" if not m.available() else ""
        lines.append(f"    ``{m.name}``: {m.summary}{flag}")
        if m.params:
            lines.append(f"        parameters: {params_text(m.params)}")
    return lines


def task_function(task: str):
    """The Python function of ``task``, generated from its declaration (``imagewizard.<task>``)."""
    import inspect

    from imagewizard.core.task import get_task

    t = get_task(task)
    registry.load_builtins()
    if t.name not in registry.tasks():
        registry.load_task(t.name)
    P = inspect.Parameter
    first = [P("img", P.POSITIONAL_OR_KEYWORD)]
    primary = [P(i.name, P.POSITIONAL_OR_KEYWORD, default=None) for i in t.inputs if i.primary]
    method = [P("method", P.POSITIONAL_OR_KEYWORD, default=t.default_method, annotation=str)]
    later = [P(i.name, P.POSITIONAL_OR_KEYWORD, default=None) for i in t.inputs if not i.primary]
    sigma = [P("sigma", P.POSITIONAL_OR_KEYWORD, default=None)] if t.sigma else []
    strength = [P("strength", P.KEYWORD_ONLY, default=None)] if t.strength else []
    sig = inspect.Signature(
        first + primary + method + later + sigma + strength + [P("params", P.VAR_KEYWORD)],
        return_annotation=np.ndarray,
    )

    def run(*args: Any, **kwargs: Any) -> np.ndarray:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise ParameterError(f"{t.name}(): {exc}") from None
        bound.apply_defaults()
        a = dict(bound.arguments)
        extra = a.pop("params", {})
        return apply(t.name, a.pop("img"), a.pop("method"), **a, **extra)

    inputs = "".join(f"    {i.name} : optional\n        {i.summary}\n" for i in t.inputs)
    sigma_doc = (
        (
            "    sigma : float or 'auto', optional\n        Noise std on the 0..255 scale, for methods that "
            "use one; ``None``/``'auto'``: estimated from the image.\n"
        )
        if t.sigma
        else ""
    )
    if t.strength:
        sigma_doc += (
            "    strength : float, optional\n        0 = off, 1 = as measured (default), above 1 = stronger "
            "(up to 4): see :func:`imagewizard.apply`.\n"
        )
    run.__doc__ = (
        f"{t.summary}\n\n    Runs one of the task's methods through :func:`imagewizard.apply`. Returns "
        + (
            "an int32 label map (HxW, regions numbered 1..n); images over 2 megapixels are segmented shrunk "
            "and the labels scaled back.\n\n"
            if t.output == "label map"
            else "float32 in [0, 1], also for uint8 input (scaled, not 0..255).\n\n"
        )
        + f"    Parameters\n    ----------\n    img : array_like\n        HxW, HxWx3 or HxWx4; uint8, uint16 "
        f"or float in [0, 1].\n{inputs}    method : str\n        One of the methods below (default "
        f"``{t.default_method}``).\n{sigma_doc}    **params\n        The method's parameters.\n\n"
        f"    Methods\n    -------\n"
        + "\n".join(_method_lines(t.name))
        + "\n"
        + (f"\n    Examples\n    --------{_EXAMPLES[t.name]}" if t.name in _EXAMPLES else "")
    )
    run.__name__ = run.__qualname__ = t.name
    run.__module__ = __name__
    run.__signature__ = sig  # type: ignore[attr-defined]
    return run


def __getattr__(name: str):
    """``api.denoise`` and every other task's function, built on first use from the declarations."""
    from imagewizard.core.task import _TASKS, _discover

    _discover()
    if name in _TASKS:
        fn = task_function(name)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
