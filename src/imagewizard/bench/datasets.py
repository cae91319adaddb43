"""Where benchmark images come from: a folder, a named test set, or the built-in tiny set.

``--data`` accepts

* ``tiny``: the built-in set of small crops of scikit-image's samples
  (:func:`imagewizard.samples.tiny_set`), always available;
* ``set12``, ``bsd68``, ``cbsd68`` (any case): the classic denoising test
  sets, looked up in ``$IMAGEWIZARD_DATA/testsets/<Name>`` (or
  ``$IMAGEWIZARD_DATA/<Name>``) and then in ``./data/testsets/<Name>``
  beside the working directory or the source checkout. The package never
  needs them; when absent the error says where it looked;
* ``bsds500``: the 200 BSDS500 test images found the same way;
* any folder: every image in it, recursively (hidden files skipped). A
  BSDS500-style folder (``images/{train,val,test}``) means its test images.

Images keep their colour: gray files stay HxW, and an RGB file whose three
channels are identical is read as gray too. ``gray=True`` converts colour to
luma (BT.601). Alpha is dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imagewizard.core.errors import ParameterError

#: Named test sets: lower-case name -> folder name under ``testsets/``.
NAMED_SETS = {"set12": "Set12", "bsd68": "BSD68", "cbsd68": "CBSD68"}
#: Folder names recognised as the sets of published tables (lower case -> table id).
KNOWN_IDENTITIES = {
    "set12": "set12",
    "bsd68": "bsd68",
    "cbsd68": "cbsd68",
    "kodak24": "kodak24",
    "mcmaster": "mcmaster",
    "urban100": "urban100",
    "bsd100": "bsd100",
    "b100": "bsd100",
}
TINY = "tiny"
DATA_ENV = "IMAGEWIZARD_DATA"


@dataclass(frozen=True)
class ImageRef:
    """One benchmark image: a stable ``name`` (the key in results) and where to load it from."""

    name: str
    source: str  # a file path, or "tiny:<name>"


@dataclass
class Dataset:
    """A resolved ``--data`` argument."""

    name: str
    images: list[ImageRef]
    root: str | None = None
    #: The id of a published-table set ('set12', 'bsd68', ...) when the images are that set.
    identity: str | None = None
    description: str = ""
    total: int = 0  # images before --limit
    notes: list[str] = field(default_factory=list)


def data_roots() -> list[Path]:
    """Folders searched for named sets, in order (existing or not)."""
    roots: list[Path] = []
    env = os.environ.get(DATA_ENV)
    if env:
        roots.append(Path(env).expanduser())
    roots.append(Path.cwd() / "data")
    seen, out = set(), []
    for r in roots:
        key = str(r.resolve()) if r.exists() else str(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _candidates(sub: str) -> list[Path]:
    out = []
    for root in data_roots():
        out += [root / "testsets" / sub, root / sub]
    return out


def find_named_set(name: str) -> Path | None:
    """The folder of a named set (``set12``, ``bsd68``, ``cbsd68``, ``bsds500``), or None."""
    sub = NAMED_SETS.get(name.lower(), "bsds500" if name.lower() == "bsds500" else None)
    if sub is None:
        return None
    for cand in _candidates(sub):
        if cand.is_dir():
            return cand
    return None


def resolve_dataset(data: str, *, limit: int | None = None, gray: bool = False) -> Dataset:
    """Resolve ``--data`` (folder or set name) to a sorted list of images.

    Raises :class:`ParameterError` (one line) when the folder or set is
    missing or holds no images.

    Examples
    --------
    >>> ds = resolve_dataset("tiny", limit=2)
    >>> [r.name for r in ds.images]
    ['astronaut-face', 'brick']
    """
    from imagewizard.io import list_images

    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise ParameterError(f"--limit must be a positive integer, got {limit!r}")
    text = str(data).strip()
    if not text:
        raise ParameterError("--data is empty; give a folder or one of: tiny, set12, bsd68, cbsd68, bsds500")
    low = text.lower()
    path = Path(text).expanduser()
    identity = None
    if low == TINY and not path.is_dir():
        from imagewizard.samples import SAMPLES, TINY_SET

        refs = [ImageRef(k, f"tiny:{k}") for k in sorted(TINY_SET)]
        desc = (
            "built-in tiny set: crops of "
            + ", ".join(sorted({SAMPLES[v[0]][0] for v in TINY_SET.values()}))
            + " (scikit-image samples)"
        )
        ds = Dataset(TINY, refs, None, None, desc)
    else:
        if not path.is_dir():
            if low in NAMED_SETS or low == "bsds500":
                found = find_named_set(low)
                if found is None:
                    sub = NAMED_SETS.get(low, "bsds500")
                    looked = ", ".join(str(c) for c in _candidates(sub)[:4])
                    raise ParameterError(
                        f"--data {text}: test set not found (looked in {looked}); "
                        f"set {DATA_ENV} to a folder holding testsets/{sub}"
                    )
                path = found
            elif path.exists():
                raise ParameterError(f"--data {text}: not a folder")
            else:
                raise ParameterError(
                    f"--data {text}: no such folder, and not a known set (tiny, set12, bsd68, cbsd68, bsds500)"
                )
        if (path / "images" / "test").is_dir():  # BSDS500 layout: benchmark on its test split
            path = path / "images" / "test"
            name = "bsds500-test"
        else:
            name = path.name
        files = list_images(path, recursive=True)
        if not files:
            raise ParameterError(f"--data {text}: no images in {path}")
        refs = _name_files(path, files)
        identity = KNOWN_IDENTITIES.get(path.name.lower())
        if path.name.lower() == "val" and path.parent.name == "images" and "bsds500" in path.parent.parent.name.lower():
            identity = "bsd100"  # BSDS500's val split is BSD100, the super-resolution test set
        ds = Dataset(name, refs, str(path), identity, f"{len(refs)} images in {path}")
    ds.total = len(ds.images)
    if limit is not None and limit < ds.total:
        ds.images = ds.images[: int(limit)]
        ds.notes.append(f"--limit {limit}: the first {limit} of {ds.total} images (sorted by name)")
    if gray and ds.identity is not None and ds.identity not in ("set12", "bsd68"):
        ds.notes.append(f"--gray: converted to luma, so published {ds.identity} numbers do not apply")
        ds.identity = None
    return ds


def _name_files(root: Path, files: list[Path]) -> list[ImageRef]:
    stems = [f.relative_to(root).with_suffix("").as_posix() for f in files]
    dup = {s for s in stems if stems.count(s) > 1}
    return [ImageRef(f.relative_to(root).as_posix() if s in dup else s, str(f)) for s, f in zip(stems, files)]


_TINY_CACHE: dict[str, np.ndarray] = {}


def load_image(ref: ImageRef, *, gray: bool = False) -> np.ndarray:
    """The clean image of ``ref`` as float32 HxW or HxWx3 (alpha dropped; see module notes on gray)."""
    from imagewizard.core.arrays import split_alpha, to_gray

    if ref.source.startswith("tiny:"):
        if not _TINY_CACHE:
            from imagewizard.samples import tiny_set

            _TINY_CACHE.update(tiny_set())
        img = _TINY_CACHE[ref.source[5:]]
    else:
        from imagewizard.io import read

        img, _ = read(ref.source)
        img = split_alpha(img)[0]
    if img.ndim == 3:
        if np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2]):
            img = img[..., 0]  # gray stored as RGB: keep it gray (and exact)
        elif gray:
            img = to_gray(img)
    return np.ascontiguousarray(img, dtype=np.float32)
