"""Photographs that installed Python packages ship under free licences: training data beyond BSDS.

A denoiser trained only on BSDS500 is tuned to one photographer's 1990s film scans. Several
packages ship a handful of real photographs in their wheels (scikit-image's ``data`` folder,
scikit-learn's sample images, Matplotlib's sample data, PyWavelets' data, mahotas' demo data);
:func:`collect_photos` gathers them from whatever is installed, without importing the packages
and without downloading anything, skipping what is missing.

:data:`CATALOG` lists every candidate once, with its licence and its role: ``'train'``, ``'val'``
(held out: never trained on, used for validation and for choosing checkpoints) or ``'exclude'``
(with the reason: a standard test image, the photo ``make demo`` reports on, no stated licence,
not a photograph). Exact and near duplicates (difference hashes that differ in fewer than
:data:`NEAR_DUPLICATE_FRACTION` of their bits) are dropped, keeping the first listed; images that
match a test-set folder the same way are dropped too. ``python -m imagewizard.models.photos manifest`` prints the
table kept in ``docs/training-data.md``; ``python -m imagewizard.models.photos export DIR --split
val`` writes the held-out photos as PNG files (for ``imagewizard bench --data DIR``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

#: Side of the difference hash (:func:`dhash`: 2 x side x side bits).
HASH_SIDE = 16
#: Fraction of differing hash bits under which two images are taken as the same picture. Measured
#: on the installed photos: a crop by 5% plus resizing plus JPEG quality 50 differs by 14%, the
#: closest unrelated pair (rocket, retina) by 31%, the two views of the Middlebury stereo pair by
#: 27% (they are excluded in the catalogue instead: a near-duplicate scene, not a copy).
NEAR_DUPLICATE_FRACTION = 0.2


@dataclass(frozen=True)
class PhotoSource:
    """One image file inside an installed package."""

    name: str  # short id, e.g. 'skimage/chelsea'
    module: str  # import name whose folder holds the file (found without importing it)
    path: str  # path inside that folder
    package: str  # distribution name on PyPI
    licence: str
    credit: str
    split: str  # 'train', 'val' or 'exclude'
    note: str = ""


_SK = "scikit-image"
_SK_CC0 = "CC0 1.0 (per skimage.data docstring)"
CATALOG: tuple[PhotoSource, ...] = (
    # Held out (validation): colour photographs of ordinary scenes, 0.25-0.31 MP each.
    PhotoSource(
        "sklearn/flower",
        "sklearn",
        "datasets/images/flower.jpg",
        "scikit-learn",
        "CC BY 2.0 (per sklearn/datasets/images/README.txt)",
        "Flickr user vultilion",
        "val",
    ),
    PhotoSource("skimage/coffee", "skimage", "data/coffee.png", _SK, _SK_CC0, "Rachel Michetti", "val"),
    PhotoSource(
        "skimage/rocket",
        "skimage",
        "data/rocket.jpg",
        _SK,
        "public domain (SpaceX release)",
        "SpaceX, DSCOVR launch",
        "val",
    ),
    PhotoSource(
        "matplotlib/grace_hopper",
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "matplotlib",
        "public domain (US Navy photo)",
        "US Navy, Grace Hopper portrait",
        "val",
    ),
    # Training.
    PhotoSource(
        "sklearn/china",
        "sklearn",
        "datasets/images/china.jpg",
        "scikit-learn",
        "CC BY 2.0 (per sklearn/datasets/images/README.txt)",
        "Flickr user danielbuechele",
        "train",
    ),
    PhotoSource("skimage/chelsea", "skimage", "data/chelsea.png", _SK, _SK_CC0, "Stefan van der Walt", "train"),
    PhotoSource(
        "skimage/hubble_deep_field",
        "skimage",
        "data/hubble_deep_field.jpg",
        _SK,
        "public domain (NASA)",
        "NASA / HubbleSite",
        "train",
    ),
    PhotoSource(
        "skimage/immunohistochemistry",
        "skimage",
        "data/ihc.png",
        _SK,
        "no known copyright restrictions",
        "Center for Microscopy And Molecular Imaging",
        "train",
        "microscopy, stained tissue",
    ),
    PhotoSource(
        "skimage/retina",
        "skimage",
        "data/retina.jpg",
        _SK,
        "CC0 1.0 (Wikimedia Commons)",
        "Mikael Häggström",
        "train",
        "fundus photograph",
    ),
    PhotoSource(
        "skimage/motorcycle_left",
        "skimage",
        "data/motorcycle_left.png",
        _SK,
        "Middlebury 2014 stereo data set (free for research, per its site)",
        "Scharstein et al., Middlebury College",
        "train",
    ),
    PhotoSource(
        "skimage/motorcycle_right",
        "skimage",
        "data/motorcycle_right.png",
        _SK,
        "Middlebury 2014 stereo data set (free for research, per its site)",
        "Scharstein et al., Middlebury College",
        "exclude",
        "the other view of motorcycle_left's stereo pair: the same scene",
    ),
    PhotoSource(
        "skimage/camera",
        "skimage",
        "data/camera.png",
        _SK,
        _SK_CC0,
        "Lav Varshney",
        "train",
        "gray; the CC0 replacement (0.18) of the classic cameraman, not Set12's",
    ),
    PhotoSource(
        "skimage/coins",
        "skimage",
        "data/coins.png",
        _SK,
        "no known copyright restrictions",
        "Brooklyn Museum",
        "train",
        "gray",
    ),
    PhotoSource(
        "skimage/moon",
        "skimage",
        "data/moon.png",
        _SK,
        "public domain (per skimage)",
        "",
        "train",
        "gray, low contrast",
    ),
    PhotoSource("skimage/brick", "skimage", "data/brick.png", _SK, _SK_CC0, "CC0Textures", "train", "gray texture"),
    PhotoSource(
        "skimage/grass",
        "skimage",
        "data/grass.png",
        _SK,
        _SK_CC0,
        "DeviantArt user linolafett",
        "train",
        "gray texture",
    ),
    PhotoSource("skimage/gravel", "skimage", "data/gravel.png", _SK, _SK_CC0, "CC0Textures", "train", "gray texture"),
    PhotoSource(
        "skimage/cell",
        "skimage",
        "data/cell.png",
        _SK,
        _SK_CC0,
        "Paul Müller et al.",
        "train",
        "gray, quantitative phase image",
    ),
    PhotoSource(
        "skimage/text",
        "skimage",
        "data/text.png",
        _SK,
        "public domain (Wikipedia)",
        "",
        "train",
        "gray, printed letters",
    ),
    PhotoSource(
        "skimage/page",
        "skimage",
        "data/page.png",
        _SK,
        "no licence stated in skimage.data",
        "",
        "exclude",
        "no licence stated",
    ),
    PhotoSource(
        "pywt/ascent",
        "pywt",
        "data/ascent.npz",
        "PyWavelets",
        "public domain (public-domain-image.com, per pywt.data docstring)",
        "",
        "train",
        "gray",
    ),
    PhotoSource(
        "pywt/camera",
        "pywt",
        "data/camera.npz",
        "PyWavelets",
        _SK_CC0,
        "Lav Varshney",
        "train",
        "gray; the same picture as skimage/camera",
    ),
    PhotoSource(
        "mahotas/DepartmentStore",
        "mahotas",
        "demos/data/DepartmentStore.jpg",
        "mahotas",
        "MIT (the package's licence; no separate image licence stated)",
        "mahotas demo data",
        "train",
    ),
    PhotoSource(
        "mahotas/luispedro",
        "mahotas",
        "demos/data/luispedro.jpg",
        "mahotas",
        "MIT (the package's licence; no separate image licence stated)",
        "Luis Pedro Coelho",
        "train",
        "portrait",
    ),
    PhotoSource(
        "mahotas/nuclear",
        "mahotas",
        "demos/data/nuclear.png",
        "mahotas",
        "MIT (the package's licence; no separate image licence stated)",
        "mahotas demo data",
        "train",
        "fluorescence microscopy",
    ),
    # Never used.
    PhotoSource(
        "skimage/astronaut",
        "skimage",
        "data/astronaut.png",
        _SK,
        "public domain (NASA)",
        "NASA",
        "exclude",
        "the photo make demo reports on",
    ),
    PhotoSource(
        "mahotas/lena",
        "mahotas",
        "demos/data/lena.jpg",
        "mahotas",
        "not free (Playboy, 1972)",
        "",
        "exclude",
        "standard test image (Set14 and others)",
    ),
    PhotoSource(
        "pywt/aero",
        "pywt",
        "data/aero.npz",
        "PyWavelets",
        "no source or licence stated",
        "",
        "exclude",
        "aerial photo of unknown provenance (USC-SIPI-like)",
    ),
    PhotoSource(
        "skimage/colorwheel",
        "skimage",
        "data/color.png",
        _SK,
        "no licence stated",
        "",
        "exclude",
        "synthetic, not a photograph",
    ),
)

SPLITS = ("train", "val")


@dataclass
class Photo:
    """A collected photograph: HxWx3 uint8 (gray files are stored as three equal channels)."""

    source: PhotoSource
    image: np.ndarray
    file: Path
    gray: bool

    @property
    def name(self) -> str:
        return self.source.name


def locate(source: PhotoSource) -> Path | None:
    """The file of ``source`` in the installed package, or None when the package or file is missing.

    The package is found with :func:`importlib.util.find_spec`, which does not import it (mahotas or
    a future matplotlib may not even import here; their data files are still readable).
    """
    try:
        spec = importlib.util.find_spec(source.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        f = Path(base) / source.path
        if f.is_file():
            return f
    return None


def load_rgb_uint8(path: Path) -> np.ndarray:
    """Decode an image file (or a single-array ``.npz``) to HxWx3 uint8."""
    if path.suffix == ".npz":
        with np.load(path) as z:
            arr = np.asarray(z[z.files[0]])
        if arr.dtype != np.uint8:
            arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr[:, :, :3]
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def dhash(img: np.ndarray, side: int = HASH_SIDE) -> np.ndarray:
    """Difference hash: signs of the horizontal and vertical steps of the luma shrunk to about
    ``side`` x ``side`` (2 side^2 booleans). Insensitive to scale, compression and small crops, so
    re-encoded or resized copies collide, while different photos differ in about half the bits."""
    luma = Image.fromarray(img).convert("L")
    a = np.asarray(luma.resize((side + 1, side), Image.Resampling.BILINEAR), np.int16)
    b = np.asarray(luma.resize((side, side + 1), Image.Resampling.BILINEAR), np.int16)
    return np.concatenate([(a[:, 1:] > a[:, :-1]).ravel(), (b[1:] > b[:-1]).ravel()])


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two :func:`dhash` values are near enough to be one picture."""
    return float(np.mean(a != b)) < NEAR_DUPLICATE_FRACTION


def _test_set_hashes(folders: Iterable[str | Path]) -> list[tuple[str, np.ndarray]]:
    from imagewizard.models.data import list_image_files

    out = []
    for folder in folders:
        if folder is None or not Path(folder).is_dir():
            continue
        for f in list_image_files(folder):
            out.append((f"{Path(folder).name}/{f.name}", dhash(load_rgb_uint8(f))))
    return out


def collect_photos(
    split: str | None = None, *, exclude_folders: Iterable[str | Path] = (), min_side: int = 128, log=None
) -> list[Photo]:
    """Load the catalogued photos that the installed packages ship, without duplicates.

    Parameters
    ----------
    split : {'train', 'val', None}
        Which part to return; None: both. The split is fixed by :data:`CATALOG`, so training and
        validation never share a photo, whatever is installed.
    exclude_folders : iterable of paths
        Folders of test images (e.g. ``testsets/CBSD68``); a photo that is the same picture as one of
        theirs (:func:`same_picture`) is dropped. Missing folders are ignored.
    min_side : int
        Photos with a shorter side are skipped (a training patch must fit).
    log : callable, optional
        Receives one line per photo skipped, and why.

    Returns
    -------
    list of Photo
        In catalogue order. Duplicates are judged across both splits (a copy of a held-out photo
        never enters training).
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    say = log or (lambda s: None)
    banned = _test_set_hashes(exclude_folders)
    kept: list[tuple[Photo, np.ndarray]] = []
    for src in CATALOG:
        if src.split == "exclude":
            continue
        f = locate(src)
        if f is None:
            say(f"{src.name}: not installed ({src.package})")
            continue
        img = load_rgb_uint8(f)
        if min(img.shape[:2]) < min_side:
            say(f"{src.name}: {img.shape[1]}x{img.shape[0]} is smaller than {min_side} px")
            continue
        h = dhash(img)
        twin = next((p.name for p, ph in kept if same_picture(h, ph)), None)
        if twin is not None:
            say(f"{src.name}: duplicate of {twin}")
            continue
        test = next((n for n, th in banned if same_picture(h, th)), None)
        if test is not None:
            say(f"{src.name}: matches test image {test}")
            continue
        gray = bool(np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))
        kept.append((Photo(src, img, f, gray), h))
    return [p for p, _ in kept if split is None or p.source.split == split]


def manifest(exclude_folders: Iterable[str | Path] = ()) -> str:
    """Markdown table of every catalogued photo: package, file, licence, size, role (as installed here)."""
    notes: dict[str, str] = {}

    def log(line: str) -> None:
        name, _, why = line.partition(": ")
        notes[name] = why

    got = {p.name: p for p in collect_photos(exclude_folders=exclude_folders, log=log)}
    rows = ["| photo | package | file | licence (credit) | size | role |", "|---|---|---|---|---|---|"]
    for src in CATALOG:
        p = got.get(src.name)
        if p is not None:
            h, w = p.image.shape[:2]
            size = f"{w}x{h}" + (" gray" if p.gray else "")
            role = "validation (held out)" if src.split == "val" else "training"
        else:
            f = locate(src)
            size = ""
            if f is not None:
                img = load_rgb_uint8(f)
                size = f"{img.shape[1]}x{img.shape[0]}"
            role = f"excluded: {src.note}" if src.split == "exclude" else f"dropped: {notes.get(src.name, '?')}"
        extra = f" ({src.note})" if src.note and src.split != "exclude" else ""
        credit = f" ({src.credit})" if src.credit else ""
        rows.append(f"| {src.name}{extra} | {src.package} | `{src.path}` | {src.licence}{credit} | {size} | {role} |")
    return "\n".join(rows) + "\n"


def export(folder: str | Path, split: str = "val") -> list[Path]:
    """Write the photos of ``split`` as lossless PNG files named after their source (for ``bench --data``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for p in collect_photos(split):
        f = folder / (p.name.replace("/", "-") + ".png")
        Image.fromarray(p.image).save(f)
        out.append(f)
    return out


def _fingerprint(photos: list[Photo]) -> str:
    """Short SHA-256 of the photos' pixels, recorded in a model card so a reader can tell which set it saw."""
    h = hashlib.sha256()
    for p in photos:
        h.update(p.name.encode())
        h.update(np.ascontiguousarray(p.image).tobytes())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m imagewizard.models.photos", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("manifest", help="print the markdown manifest of docs/training-data.md")
    m.add_argument("--exclude", action="append", default=[], help="test-set folder to check against (repeatable)")
    e = sub.add_parser("export", help="write one split's photos as PNG files")
    e.add_argument("folder")
    e.add_argument("--split", default="val", choices=SPLITS)
    args = ap.parse_args(argv)
    if args.cmd == "manifest":
        sys.stdout.write(manifest(args.exclude))
    else:
        for f in export(args.folder, args.split):
            print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
