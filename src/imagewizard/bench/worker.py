"""What a benchmark worker does for one job: degrade, restore, time, measure, score, record.

A job is one image x degradation x method (or the ``input`` baseline: the
degraded image itself). Everything a job does is decided by the job, never
by which worker runs it or when: the noise seed is
``derive_seed(seed, image name, canonical degradation spec)``, so results
are identical for any number of workers.

Time and memory
---------------
``seconds`` is the wall time of the method call alone (``api.apply``, and
the noise estimate for blind runs), after one untimed warm-up call of the
same method in the same process on a small crop (so imports, weight loading
and JIT/plan caches are not charged to the first image).

``peak_mem_mb`` is how much the process's resident memory grew during the
call: the peak RSS during the call minus the RSS just before it. On Linux the
peak (VmHWM) is reset before each call through ``/proc/self/clear_refs``, so
it sees every allocation in the process, NumPy, OpenCV, BLAS and PyTorch
alike (``tracemalloc`` would see only Python's). Memory that the allocator
already holds from earlier calls and reuses is not counted, so it is a lower
bound on the method's own working memory; worker processes are started with
``MALLOC_MMAP_THRESHOLD_`` fixed so that large arrays are returned to the
system on free, which keeps that reuse small. Where VmHWM cannot be reset
(other systems), the growth of ``ru_maxrss`` is used (``mem_measure`` says
which); it only shows calls that exceed the process's earlier peak.
"""

from __future__ import annotations

import math
import io
import re
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imagewizard.io.files import atomic_write
from imagewizard.run.jobs import limit_torch_threads, worker_threads

BASELINE = "input"
_WARM: set[tuple[str, str, int]] = set()


@dataclass
class Settings:
    """What every job of a run shares."""

    task: str
    protocol: str
    seed: int
    blind: bool
    gray: bool
    dataset: str
    out_dir: str
    save_images: bool = False
    save_format: str = "png"
    crop_size: int = 128


@dataclass
class Job:
    image: str
    source: str
    degradation: str  # canonical spec (degrade.format_degrade_spec)
    degrade_kw: dict[str, Any]
    method: str
    sigma_true: float | None
    settings: Settings
    crops: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    task: str = ""  # the method's own task (differs from settings.task under --task any)
    runs: str = ""  # the registered method that runs, when ``method`` is a variant's row name 'name:key=value'


# --------------------------------------------------------------------------- file names


def slug(text: str) -> str:
    """A file-name-safe form of a spec or name: ``'blur=motion:15,30+gaussian:2'`` -> ``'blur_motion_15_30_gaussian_2'``."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")
    return s or "x"


def image_path(name: str) -> Path:
    """Relative path of an image name (which may hold '/') with each part made safe."""
    return Path(*[slug(p) for p in name.split("/")])


def saved_image_path(out_dir: str | Path, degradation: str | None, method: str, image: str, ext: str) -> Path:
    base = Path(out_dir) / "images"
    folder = base / "clean" if degradation is None else base / slug(degradation) / slug(method)
    p = folder / image_path(image)
    return p.with_name(p.name + ext)


def crop_path(out_dir: str | Path, degradation: str, image: str, what: str) -> Path:
    return Path(out_dir) / "crops" / slug(degradation) / image_path(image) / f"{slug(what)}.npy"


# --------------------------------------------------------------------------- threads and memory


def _status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _maxrss_kb() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r // 1024 if sys.platform == "darwin" else r  # bytes on macOS, KiB on Linux


class MemoryProbe:
    """Peak resident-memory growth of this process across a block (see module notes)."""

    def __init__(self) -> None:
        self.kind = "vmhwm" if self._reset() else "ru_maxrss"

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
            return _status_kb("VmHWM") is not None
        except OSError:
            return False

    def __enter__(self) -> "MemoryProbe":
        if self.kind == "vmhwm":
            self._reset()
            self.base = _status_kb("VmRSS") or 0
        else:
            self.base = _maxrss_kb()
        self.mb: float = 0.0
        return self

    def __exit__(self, *exc) -> None:
        peak = (_status_kb("VmHWM") or 0) if self.kind == "vmhwm" else _maxrss_kb()
        self.mb = max(0, peak - self.base) / 1024.0


# --------------------------------------------------------------------------- the job

_CLEAN_CACHE: dict[tuple[str, bool], np.ndarray] = {}


def _clean(job: Job) -> np.ndarray:
    from imagewizard.bench.datasets import ImageRef, load_image

    key = (job.source, job.settings.gray)
    img = _CLEAN_CACHE.get(key)
    if img is None:
        if len(_CLEAN_CACHE) > 8:
            _CLEAN_CACHE.clear()
        img = _CLEAN_CACHE[key] = load_image(ImageRef(job.image, job.source), gray=job.settings.gray)
    return img


def noise_seed(seed: int, image: str, degradation: str) -> int:
    """The seed of one image's degradation: from the run seed, the image name and the canonical spec only."""
    from imagewizard.physics.degrade import derive_seed

    return derive_seed(int(seed), image, degradation)


def detail_window(img: np.ndarray, size: int) -> tuple[int, int, int]:
    """(top, left, side) of the square window with the most gradient energy (what shows restoration best)."""
    h, w = img.shape[:2]
    side = int(min(size, h, w))
    g = img.mean(axis=2) if img.ndim == 3 else img
    gy, gx = np.gradient(g.astype(np.float64))
    energy = gx * gx + gy * gy
    ii = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(1, side // 8)
    tops = np.arange(0, h - side + 1, step)
    lefts = np.arange(0, w - side + 1, step)
    t, l_ = tops[:, None], lefts[None, :]
    sums = ii[t + side, l_ + side] - ii[t, l_ + side] - ii[t + side, l_] + ii[t, l_]
    i, j = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(tops[i]), int(lefts[j]), side


def _one_line(exc: BaseException) -> str:
    from imagewizard.core.errors import ImageWizardError

    from imagewizard.core.errors import plain_reason

    return str(exc) if isinstance(exc, ImageWizardError) else plain_reason(exc)


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _sigma_plan(method, sigma_true: float | None, blind: bool) -> tuple[Any, str]:
    """(sigma argument, mode): the true sigma (non-blind), 'auto' (estimate), None (method default)."""
    if method.sigma == "none":
        return None, "none"
    if sigma_true is not None and not blind:
        return float(sigma_true), "true"
    if method.sigma == "auto":
        return "auto", "estimated"
    return None, "default"


def _call(job: Job, method, image, sigma_arg, res):
    """Run the method once; returns (output, sigma it received)."""
    from imagewizard.api import apply, sigma_for

    sigma = sigma_for(method, image, sigma_arg) if method.sigma != "none" else None
    from imagewizard.core.task import task_or_generic

    kw: dict[str, Any] = {}
    for i in task_or_generic(method.task).inputs:  # what the degradation made (its kernel, its mask) goes in
        if i.name == "scale" and i.name in method.needs:  # an upscaler undoes the downscaling's factor
            kw["scale"] = job.degrade_kw.get("downscale")
        elif i.name in method.needs:
            kw[i.name] = getattr(res, i.name, None)
    if method.sigma != "none":
        kw["sigma"] = sigma
    return apply(method.task, image, method.name, **kw, **job.params), sigma


def _warm_up(job: Job, method, image, sigma_arg, res) -> None:
    key = (method.task, method.name, image.ndim)
    if key in _WARM:
        return
    _WARM.add(key)
    side = min(64, image.shape[0], image.shape[1])
    small = type(res)(
        image=np.ascontiguousarray(image[:side, :side]),
        mask=None if res.mask is None else np.ascontiguousarray(res.mask[:side, :side]),
        kernel=res.kernel,
    )
    try:
        _call(job, method, small.image, sigma_arg, small)
    except Exception:  # the timed call reports the failure
        pass


def run_job(job: Job) -> dict[str, Any]:
    """Run one job and return its record (a failed method gives a record with ``error``)."""
    from imagewizard.core import registry
    from imagewizard.physics.degrade import degrade

    st = job.settings
    clean = _clean(job)
    seed = noise_seed(st.seed, job.image, job.degradation)
    res = degrade(clean, **job.degrade_kw, seed=seed, protocol=st.protocol)
    factor = int(job.degrade_kw.get("downscale") or 1)
    if factor > 1:  # the clean image cropped as the downscaling cropped it (the papers' modcrop)
        clean = clean[: clean.shape[0] // factor * factor, : clean.shape[1] // factor * factor]
    h, w = clean.shape[:2]  # the output's size: upscalers' speed is in output megapixels
    record: dict[str, Any] = {
        "image": job.image,
        "degradation": job.degradation,
        "method": job.method,
        "task": job.task or st.task,
        "dataset": st.dataset,
        "protocol": st.protocol,
        "seed": st.seed,
        "noise_seed": seed,
        "blind": st.blind,
        "height": h,
        "width": w,
        "channels": 1 if clean.ndim == 2 else clean.shape[2],
        "megapixels": h * w / 1e6,
        "sigma_true": job.sigma_true,
    }
    from imagewizard.core.task import task_or_generic

    task = task_or_generic(job.task or st.task, strict=False)  # its declared scoring; --task any: the image metrics
    out = None
    if job.method == BASELINE:
        out = res.image
        record.update(
            {
                "sigma_mode": "none",
                "sigma_used": None,
                "seconds": None,
                "mp_per_s": None,
                "peak_mem_mb": None,
                "mem_measure": None,
                "threads": worker_threads(),
                "steps": res.steps,
            }
        )
    else:
        m = registry.get(job.task or st.task, job.runs or job.method)
        sigma_arg, mode = _sigma_plan(m, job.sigma_true, st.blind)
        record.update({"sigma_mode": mode, "params": m.bind(job.params)})
        _warm_up(job, m, res.image, sigma_arg, res)
        limit_torch_threads()
        probe = MemoryProbe()
        try:
            with probe:
                t0 = time.perf_counter()
                out, sigma_used = _call(job, m, res.image, sigma_arg, res)
                seconds = time.perf_counter() - t0
        except Exception as exc:
            record.update(
                {
                    "error": _one_line(exc),
                    "sigma_used": None,
                    "seconds": None,
                    "mp_per_s": None,
                    "peak_mem_mb": None,
                    "mem_measure": probe.kind,
                    "threads": worker_threads(),
                    **{k: None for k in task.metrics},
                }
            )
            return record
        record.update(
            {
                "sigma_used": sigma_used,
                "seconds": seconds,
                "mp_per_s": h * w / 1e6 / max(seconds, 1e-9),
                "peak_mem_mb": round(probe.mb, 3),
                "mem_measure": probe.kind,
                "threads": worker_threads(),
            }
        )
    # the task's declared scoring; an upscale score removes a border of `scale` pixels
    scores = (
        task.scorer()(clean, out, scale=factor) if factor > 1 and task.name == "upscale" else task.scorer()(clean, out)
    )
    record.update({k: _finite(v) for k, v in scores.items()})
    if scores["psnr"] == math.inf:
        record["psnr"] = None
        record["psnr_note"] = "identical to the clean image (infinite PSNR)"
    files = _save(job, clean, res, out)
    if files:
        record["files"] = files
    return record


def _save(job: Job, clean: np.ndarray, res, out: np.ndarray) -> dict[str, str]:
    from imagewizard.io import write

    st = job.settings
    root = Path(st.out_dir)
    files: dict[str, str] = {}
    if job.crops:
        top, left, side = detail_window(clean, st.crop_size)
        sl = (slice(top, top + side), slice(left, left + side))
        items = [(job.method, out)] + ([("clean", clean)] if job.method == BASELINE else [])
        for what, arr in items:
            p = crop_path(root, job.degradation, job.image, what)
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr[sl], dtype=np.float32))
            atomic_write(p, buf.getvalue(), what="benchmark crop")
    if not st.save_images:
        return files
    if job.method == BASELINE:
        # The clean image is 8-bit levels for 8-bit sources, so an 8-bit PNG holds it exactly;
        # anything else goes to .npy.
        exact8 = np.array_equal((np.round(clean * np.float32(255)) / np.float32(255)).astype(np.float32), clean)
        ext = ".png" if exact8 else ".npy"
        p = saved_image_path(root, None, "clean", job.image, ext)
        if not p.exists():
            write(p, clean, **({"bit_depth": 8} if ext == ".png" else {}))
        files["clean"] = p.relative_to(root).as_posix()
        # float protocol: unclipped values only .npy keeps; uint8: 8-bit levels, exact in PNG.
        ext = ".npy" if st.protocol == "float" else ".png"
        p = saved_image_path(root, job.degradation, BASELINE, job.image, ext)
        write(p, res.image, **({"bit_depth": 8} if ext == ".png" else {}))
        files["degraded"] = p.relative_to(root).as_posix()
    else:
        ext = ".npy" if st.save_format == "npy" else ".png"
        p = saved_image_path(root, job.degradation, job.method, job.image, ext)
        write(p, out, **({"bit_depth": 16} if ext == ".png" else {}))
        files["restored"] = p.relative_to(root).as_posix()
    return files
