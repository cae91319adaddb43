"""Seed files of every format, byte and text mutators, and the cases built from them.

A case is fully determined by ``(seed, index)``: :func:`make_case` writes its files into a fresh
folder and returns what to run there (a command line, or an API call the worker builds from a
small spec). Rerunning one case reproduces it exactly: ``python -m fuzz --seed S --only INDEX``.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# --------------------------------------------------------------------------- seeds

IMAGE_FORMATS = (
    "png8",
    "png16",
    "png-rgba",
    "png-gray",
    "png-palette",
    "jpeg",
    "tiff8",
    "tiff16",
    "tiff-float",
    "tiff-deflate",
    "bmp",
    "webp",
    "npy",
    "npy-gray",
)
_SUFFIX = {
    "png8": ".png",
    "png16": ".png",
    "png-rgba": ".png",
    "png-gray": ".png",
    "png-palette": ".png",
    "jpeg": ".jpg",
    "tiff8": ".tif",
    "tiff16": ".tiff",
    "tiff-float": ".tif",
    "tiff-deflate": ".tif",
    "bmp": ".bmp",
    "webp": ".webp",
    "npy": ".npy",
    "npy-gray": ".npy",
}


def _photo(rng: np.random.Generator, h: int, w: int, channels: int = 3) -> np.ndarray:
    """A small picture with edges, a gradient and noise, so that every method has work to do."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.5 + 0.3 * np.sin(6 * x + rng.random() * 3) * np.cos(4 * y)
    base[h // 3 : 2 * h // 3, w // 4 : w // 2] = rng.random()
    img = np.stack([np.clip(base + 0.1 * c + rng.normal(0, 0.05, (h, w)), 0, 1) for c in range(channels)], -1)
    return img.astype(np.float32) if channels > 1 else img[..., 0].astype(np.float32)


def seed_bytes(fmt: str, rng: np.random.Generator, size: tuple[int, int] | None = None) -> bytes:
    """A valid file of format ``fmt`` (a small photo-like image)."""
    import tifffile

    h, w = size or (int(rng.integers(16, 49)), int(rng.integers(16, 49)))
    rgb = _photo(rng, h, w)
    u8 = (rgb * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    if fmt == "png8":
        Image.fromarray(u8).save(buf, "PNG")
    elif fmt == "png16":
        Image.fromarray((rgb[..., 0] * 65535).astype(np.uint16)).save(buf, "PNG")
    elif fmt == "png-rgba":
        alpha = np.full((h, w, 1), 200, np.uint8)
        Image.fromarray(np.concatenate([u8, alpha], -1), "RGBA").save(buf, "PNG")
    elif fmt == "png-gray":
        Image.fromarray(u8[..., 0]).save(buf, "PNG")
    elif fmt == "png-palette":
        Image.fromarray(u8).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(buf, "PNG")
    elif fmt == "jpeg":
        Image.fromarray(u8).save(buf, "JPEG", quality=int(rng.integers(40, 95)))
    elif fmt == "tiff8":
        tifffile.imwrite(buf, u8, photometric="rgb")
    elif fmt == "tiff16":
        tifffile.imwrite(buf, (rgb * 65535).astype(np.uint16), photometric="rgb")
    elif fmt == "tiff-float":
        tifffile.imwrite(buf, rgb[..., 0])
    elif fmt == "tiff-deflate":
        tifffile.imwrite(buf, u8, photometric="rgb", compression="zlib")
    elif fmt == "bmp":
        Image.fromarray(u8).save(buf, "BMP")
    elif fmt == "webp":
        Image.fromarray(u8).save(buf, "WEBP", quality=80)
    elif fmt == "npy":
        np.save(buf, rgb)
    elif fmt == "npy-gray":
        np.save(buf, rgb[..., 0])
    else:  # pragma: no cover - a typo in this file
        raise ValueError(fmt)
    return buf.getvalue()


def mask_bytes(rng: np.random.Generator, h: int, w: int) -> bytes:
    m = np.zeros((h, w), np.uint8)
    m[rng.random((h, w)) < 0.15] = 255
    buf = io.BytesIO()
    Image.fromarray(m).save(buf, "PNG")
    return buf.getvalue()


def kernel_bytes(rng: np.random.Generator, as_png: bool = False) -> bytes:
    k = rng.random((int(rng.integers(3, 8)),) * 2).astype(np.float32)
    k /= k.sum()
    buf = io.BytesIO()
    if as_png:
        Image.fromarray((k / k.max() * 255).astype(np.uint8)).save(buf, "PNG")
    else:
        np.save(buf, k)
    return buf.getvalue()


def pipeline_text(rng: np.random.Generator, as_json: bool = False) -> str:
    steps = [
        {"method": "median", "params": {"size": 3}},
        {"method": "gaussian", "sigma": 10},
        {"task": "deblur", "method": "wiener", "kernel": "gaussian:1"},
        {"method": "clahe", "params": {"clip_limit": 2.0}},
        {"method": "gamma", "params": {"gamma": 0.8}},
    ]
    chosen = [steps[i] for i in sorted(rng.choice(len(steps), int(rng.integers(1, 4)), replace=False))]
    doc = {"name": "fuzz", "steps": chosen}
    if as_json:
        return json.dumps(doc, indent=1)
    import yaml

    return yaml.safe_dump(doc, sort_keys=False)


# --------------------------------------------------------------------------- byte mutators

_INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x10, 0x40)
_INTERESTING32 = (0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0x00010000, 65536 * 4, 46341)


def _flip(b: bytearray, rng) -> None:
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(len(b)))
        b[i] ^= 1 << int(rng.integers(8))


def _set_bytes(b: bytearray, rng) -> None:
    for _ in range(int(rng.integers(1, 5))):
        b[int(rng.integers(len(b)))] = int(rng.choice(_INTERESTING))


def _set_word(b: bytearray, rng) -> None:
    """A 32-bit field near the header set to an extreme value: sizes, offsets, counts."""
    i = int(rng.integers(0, max(1, min(len(b), 256) - 4)))
    b[i : i + 4] = struct.pack(rng.choice(["<I", ">I"]), int(rng.choice(_INTERESTING32)))


def _truncate(b: bytearray, rng) -> None:
    del b[int(rng.integers(0, len(b))) :]


def _insert(b: bytearray, rng) -> None:
    i = int(rng.integers(len(b) + 1))
    b[i:i] = rng.integers(0, 256, int(rng.integers(1, 64))).astype(np.uint8).tobytes()


def _delete(b: bytearray, rng) -> None:
    i = int(rng.integers(len(b)))
    del b[i : i + int(rng.integers(1, 64))]


def _duplicate(b: bytearray, rng) -> None:
    i = int(rng.integers(len(b)))
    chunk = b[i : i + int(rng.integers(1, 256))]
    j = int(rng.integers(len(b) + 1))
    b[j:j] = chunk * int(rng.integers(1, 4))


def _zero_run(b: bytearray, rng) -> None:
    i = int(rng.integers(len(b)))
    n = int(rng.integers(1, 128))
    b[i : i + n] = bytes(len(b[i : i + n]))


def _png_dims(b: bytearray, rng) -> None:
    """PNG: rewrite IHDR (size, depth, colour type) with a valid CRC, so decoders trust it."""
    if b[:8] != b"\x89PNG\r\n\x1a\n" or len(b) < 33:
        return _set_word(b, rng)
    w, h = (int(rng.choice([0, 1, 65535, 30000, 100000, 2**31 - 1, 12000])) for _ in range(2))
    ihdr = bytearray(b[16:29])
    ihdr[0:8] = struct.pack(">II", w, h)
    if rng.random() < 0.3:
        ihdr[8] = int(rng.choice([1, 2, 4, 8, 16, 3, 0]))
        ihdr[9] = int(rng.choice([0, 2, 3, 4, 6, 5, 7]))
    b[16:29] = ihdr
    b[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))


def _npy_header(b: bytearray, rng) -> None:
    """.npy: swap the header's dtype or shape for a hostile one (objects, complex, huge, empty)."""
    if b[:6] != b"\x93NUMPY" or len(b) < 10:
        return _set_word(b, rng)
    text = bytes(b[10 : 10 + struct.unpack("<H", b[8:10])[0]]).decode("latin1")
    if "'descr'" not in text or "(" not in text or ")" not in text:  # an earlier mutation broke the header
        return _set_word(b, rng)
    if rng.random() < 0.5:
        new = str(rng.choice(["'|O'", "'<c8'", "'<f8'", "'|u1'", "'<U4'", "'|V8'", "'>f4'", "'<i8'", "'|b1'"]))
        text = text.replace(text[text.index("'descr'") + 9 : text.index(",", text.index("'descr'"))], new)
    else:
        start = text.index("(")
        end = text.index(")", start) + 1
        new = str(
            rng.choice(
                [
                    "()",
                    "(0,)",
                    "(0, 0)",
                    "(100000, 100000)",
                    "(1, 1)",
                    "(3, 16, 16)",
                    "(16, 16, 5)",
                    "(2, 2, 2, 2)",
                    "(16, 16, 1)",
                    "(16, 16, 4)",
                    "(99999999999,)",
                ]
            )
        )
        text = text[:start] + new + text[end:]
    header = text.rstrip("\n ").encode("latin1")
    pad = (16 - (10 + len(header) + 1) % 16) % 16
    header = header + b" " * pad + b"\n"
    data = b[10 + struct.unpack("<H", b[8:10])[0] :]
    b[:] = b[:8] + struct.pack("<H", len(header)) + header + data


BYTE_MUTATORS = {
    "flip": _flip,
    "set-bytes": _set_bytes,
    "set-word": _set_word,
    "truncate": _truncate,
    "insert": _insert,
    "delete": _delete,
    "duplicate": _duplicate,
    "zero-run": _zero_run,
    "png-dims": _png_dims,
    "npy-header": _npy_header,
}


def mutate_bytes(data: bytes, rng: np.random.Generator) -> tuple[bytes, list[str]]:
    """One to three mutations of ``data``; returns the bytes and the mutators' names."""
    b = bytearray(data)
    names = []
    for _ in range(int(rng.integers(1, 4))):
        if not b:
            break
        name = str(rng.choice(list(BYTE_MUTATORS)))
        BYTE_MUTATORS[name](b, rng)
        names.append(name)
    return bytes(b), names


# --------------------------------------------------------------------------- text mutators

HOSTILE_VALUES = [
    "-5",
    ".nan",
    ".inf",
    "-.inf",
    "1e308",
    "abc",
    "''",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "null",
    "true",
    "0",
    "-0",
    "256",
    "1e-320",
    "!!binary aGVsbG8=",
    "'" + "x" * 5000 + "'",
    "!!python/object/apply:os.system ['echo pwned']",
    "'../../../../etc/passwd'",
    "'/dev/zero'",
    "'gaussian:-1'",
    "'motion:1e9,30'",
    "'disk:0'",
    "'box:99999'",
    "'{stem}'",
    "'{stem}{stem}'",
    "'%s%n'",
    "0x10",
    "2147483648",
    "'auto'",
    "'AUTO '",
    "*a",
    "&a 1",
]


def _yaml_bomb() -> str:
    """Nine levels of nine-fold aliases: a billion leaves if anything walks the document naively."""
    rows = [f"k{i}: &a{i} [" + ", ".join(["*a%d" % (i - 1) if i else "x"] * 9) + "]" for i in range(9)]
    return (
        "steps:\n  - method: median\n    params:\n"
        + "".join(f"      {r}\n" for r in rows)
        + "  - {method: median, params: {size: *a8}}\n"
    )


_YAML_BOMB = _yaml_bomb()


def mutate_text(text: str, rng: np.random.Generator) -> tuple[str, list[str]]:
    """Token and line mutations of a pipeline file; sometimes a YAML bomb or binary garbage."""
    import re

    roll = rng.random()
    if roll < 0.04:
        return _YAML_BOMB, ["yaml-bomb"]
    if roll < 0.07:
        return rng.integers(0, 256, 200).astype(np.uint8).tobytes().decode("latin1"), ["garbage"]
    lines = text.splitlines()
    names = []
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(["value", "value", "value", "drop-line", "dup-line", "indent", "key", "truncate"]))
        names.append(kind)
        if not lines:
            break
        i = int(rng.integers(len(lines)))
        if kind == "value":
            tokens = list(re.finditer(r"(?<=: )[^,{}\n]+|(?<=\[)[^\]]+", lines[i]))
            if tokens:
                t = tokens[int(rng.integers(len(tokens)))]
                lines[i] = lines[i][: t.start()] + str(rng.choice(HOSTILE_VALUES)) + lines[i][t.end() :]
            else:
                lines[i] += ": " + str(rng.choice(HOSTILE_VALUES))
        elif kind == "drop-line":
            del lines[i]
        elif kind == "dup-line":
            lines.insert(i, lines[i])
        elif kind == "indent":
            lines[i] = " " * int(rng.integers(0, 7)) + lines[i].lstrip()
        elif kind == "key":
            lines[i] = re.sub(
                r"\b(method|task|params|sigma|kernel|mask|reference|steps|size)\b",
                str(rng.choice(["methd", "Task", "params2", "", "steps", "mask", "__class__"])),
                lines[i],
                count=1,
            )
        elif kind == "truncate":
            lines = lines[:i]
            if lines:
                lines[-1] = lines[-1][: int(rng.integers(len(lines[-1]) + 1))]
    return "\n".join(lines) + "\n", names


# --------------------------------------------------------------------------- cases

#: Methods the CLI cases choose from: cheap on the tiny images, one of each family.
FAST_METHODS = {
    "denoise": [
        "median",
        "gaussian",
        "box",
        "bilateral",
        "nlm",
        "tv",
        "wavelet",
        "anisotropic",
        "bm3d",
        "unet",
        "dncnn",
        "deblock",
        "anscombe",
        "weighted-median",
    ],
    "deblur": ["wiener", "inverse", "richardson-lucy", "unsupervised-wiener"],
    "inpaint": ["telea", "navier-stokes", "biharmonic", "knn", "fsr"],
    "enhance": ["clahe", "gamma", "stretch", "equalize", "sigmoid", "log", "unsharp", "gray-world", "match-histogram"],
}
SIGMAS = ["auto", "0", "5", "25", "50", "255", "-1", "256", "nan", "inf", "abc", "", "1e-9", "0.1", "25x", "1e400"]
KERNEL_SPECS = [
    "gaussian:1",
    "gaussian:0",
    "gaussian:-1",
    "gaussian:1e9",
    "motion:15,30",
    "motion:0,0",
    "motion:1000,30",
    "disk:4",
    "disk:0",
    "box:5",
    "box:-3",
    "nosuch:3",
    "gaussian",
    "gaussian:",
    "motion:a,b",
    ":",
    "gaussian:nan",
    "box:1e400",
]
NOISE_SPECS = [
    "gaussian:25",
    "gaussian:-5",
    "poisson:10",
    "poisson:0",
    "salt-pepper:0.1",
    "salt-pepper:2",
    "speckle:0.2",
    "jpeg:10",
    "gaussian:nan",
    "nosuch:1",
    "gaussian",
    "gaussian:1e300",
]
MASK_SPECS = [
    "pixels:0.5",
    "pixels:2",
    "lines:8,5",
    "lines:-1,5",
    "box:0.25",
    "box:0",
    "text",
    "text:HELLO",
    "nosuch:1",
    "pixels:nan",
]
OUT_NAMES = [
    "out.png",
    "out.jpg",
    "out.tif",
    "out.npy",
    "out.webp",
    "out.bmp",
    "out.xyz",
    "out",
    "sub/out.png",
    "nodir/deeper/out.png",
    "x" * 300 + ".png",
    "ro/out.png",
    ".",
    "out.PNG",
    "-o",
    "out.png/",
]


@dataclass
class Case:
    index: int
    kind: str  # "cli" or "api"
    family: str  # what it exercises, for the totals
    argv: list[str] = field(default_factory=list)
    api: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    subprocess: bool = False
    expect_output: str | None = None  # a file that must exist when the command succeeds

    def describe(self) -> str:
        what = " ".join(self.argv) if self.kind == "cli" else json.dumps(self.api)
        return f"#{self.index} [{self.family}] {what[:300]}" + (f" ({self.note})" if self.note else "")


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index, 15])


def _write(folder: Path, name: str, data: bytes | str) -> str:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
    return name


def _bad_image(folder: Path, rng, name_stem: str = "bad", size=None) -> tuple[str, str]:
    """A mutated (or, one time in six, intact) image of a random format, sometimes misnamed."""
    fmt = str(rng.choice(IMAGE_FORMATS))
    data = seed_bytes(fmt, rng, size)
    note = fmt
    if rng.random() < 5 / 6:
        data, names = mutate_bytes(data, rng)
        note += "+" + ",".join(names)
    suffix = _SUFFIX[fmt] if rng.random() < 0.85 else str(rng.choice([".png", ".jpg", ".tif", ".npy", ".webp"]))
    return _write(folder, name_stem + suffix, data), note


def _good_image(folder: Path, rng, name: str = "good.png", size=None) -> str:
    fmt = {".png": "png8", ".jpg": "jpeg", ".tif": "tiff8", ".npy": "npy"}[Path(name).suffix]
    return _write(folder, name, seed_bytes(fmt, rng, size))


def _param_args(task: str, method: str, rng) -> list[str]:
    """Zero to two ``name=value`` parameters: in range, at the bounds, beyond them, or nonsense."""
    from imagewizard.core import registry

    try:
        spec = registry.get(task, method)
    except Exception:
        return []
    out = []
    params = list(spec.params)
    for _ in range(int(rng.integers(0, 3))):
        if not params or rng.random() < 0.1:
            out.append(str(rng.choice(["nosuch=1", "=3", "size", "size==3", "SIZE=3", "tile=0"])))
            continue
        p = params[int(rng.integers(len(params)))]
        choices = [str(v) for v in (p.low, p.high) if v is not None]
        choices += [str(c) for c in (p.choices or ())]
        choices += ["-1", "0", "1e9", "nan", "abc", "", "true", "auto", "2.5"]
        out.append(f"{p.name}={rng.choice(choices)}")
    return out


def make_case(seed: int, index: int, folder: Path) -> Case:
    """Build case ``index`` of run ``seed`` in ``folder`` (created empty by the caller)."""
    rng = _rng(seed, index)
    families = [
        "read",
        "read",
        "read",
        "task-file",
        "task-file",
        "aux-file",
        "aux-file",
        "pipeline",
        "pipeline",
        "params",
        "params",
        "params",
        "outputs",
        "batch",
        "api",
        "api",
        "api",
    ]
    family = str(rng.choice(families))
    case = Case(index, "cli", family)
    (folder / "ro").mkdir()
    if family == "read":
        name, case.note = _bad_image(folder, rng, size=(24, 24))
        cmd = str(rng.choice(["info", "estimate-noise", "histogram", "metrics", "metrics-ref", "compare", "degrade"]))
        if cmd in ("info", "estimate-noise"):
            case.argv = [cmd, name] + (["--json"] if rng.random() < 0.5 else [])
        elif cmd == "histogram":
            case.argv = ["histogram", name, "-o", "hist.png"]
        elif cmd == "metrics":
            case.argv = ["metrics", _good_image(folder, rng, size=(24, 24)), name]
        elif cmd == "metrics-ref":
            case.argv = ["metrics", name, _good_image(folder, rng, size=(24, 24))]
        elif cmd == "compare":
            case.argv = ["compare", _good_image(folder, rng), name, "-o", "grid.png"]
        else:
            case.argv = ["degrade", name, "-o", "deg.png", "--noise", "gaussian:10"]
    elif family == "task-file":
        name, case.note = _bad_image(folder, rng, size=(24, 24))
        task = str(rng.choice(["denoise", "deblur", "inpaint", "enhance", "wizard"]))
        out = "out" + str(rng.choice([".png", ".tif", ".npy", ".jpg"]))
        if task == "wizard":
            case.argv = ["enhance", name, "-o", out] + (["--dry-run"] if rng.random() < 0.3 else [])
            out = None if "--dry-run" in case.argv else out
        else:
            method = str(rng.choice(FAST_METHODS[task]))
            case.argv = [task, name, "-o", out, "-m", method]
            if task == "denoise":
                case.argv += ["--sigma", str(rng.choice(["auto", "15", "25"]))]
            elif task == "deblur":
                case.argv += ["--kernel", "gaussian:1.5"]
            elif task == "inpaint":
                case.argv += ["--mask", _write(folder, "m.png", mask_bytes(rng, 24, 24))]
            elif method == "match-histogram":
                case.argv += ["--reference", _good_image(folder, rng, "r.png")]
        case.expect_output = out
    elif family == "aux-file":
        img = _good_image(folder, rng, "in.png", size=(24, 24))
        which = str(rng.choice(["kernel-npy", "kernel-png", "mask", "reference", "ref"]))
        if which.startswith("kernel"):
            data, names = mutate_bytes(kernel_bytes(rng, as_png=which == "kernel-png"), rng)
            k = _write(folder, "k" + (".png" if which == "kernel-png" else ".npy"), data)
            case.argv = ["deblur", img, "-o", "o.png", "-m", str(rng.choice(FAST_METHODS["deblur"])), "--kernel", k]
        elif which == "mask":
            data, names = mutate_bytes(mask_bytes(rng, 24, 24), rng)
            case.argv = [
                "inpaint",
                img,
                "-o",
                "o.png",
                "--mask",
                _write(folder, "m.png", data),
                "-m",
                str(rng.choice(FAST_METHODS["inpaint"])),
            ]
        elif which == "reference":
            name, names = _bad_image(folder, rng, "ref", size=(24, 24))
            case.argv = ["enhance", img, "-o", "o.png", "-m", "match-histogram", "--reference", name]
        else:
            name, names = _bad_image(folder, rng, "clean", size=(24, 24))
            case.argv = ["denoise", img, "-o", "o.png", "-m", "median", "--ref", name]
        case.note = which + "+" + (",".join(names) if isinstance(names, list) else names)
    elif family == "pipeline":
        img = _good_image(folder, rng, "in.png", size=(24, 24))
        _write(folder, "in-mask.png", mask_bytes(rng, 24, 24))
        as_json = rng.random() < 0.3
        text, names = (
            (pipeline_text(rng, as_json), ["intact"])
            if rng.random() < 0.1
            else mutate_text(pipeline_text(rng, as_json), rng)
        )
        p = _write(folder, "p.json" if as_json else "p.yaml", text)
        case.note = ",".join(names)
        if rng.random() < 0.3:
            (folder / "IN").mkdir()
            _good_image(folder, rng, "IN/a.png", size=(20, 20))
            case.argv = ["batch", "IN", "OUT", "--pipeline", p]
        else:
            case.argv = ["run", p, img, "-o", "out.png"]
    elif family == "params":
        img = _good_image(folder, rng, "in.png", size=(int(rng.integers(1, 40)), int(rng.integers(1, 40))))
        cmd = str(rng.choice(["denoise", "deblur", "inpaint", "enhance", "degrade", "histogram", "compare", "metrics"]))
        if cmd in FAST_METHODS:
            method = str(rng.choice(FAST_METHODS[cmd] + ["nosuch", "wizard", "median"]))
            case.argv = [cmd, img, "-o", "o.png", "-m", method] + _param_args(cmd, method, rng)
            if cmd == "denoise" or (cmd == "deblur" and rng.random() < 0.5):
                case.argv += ["--sigma", str(rng.choice(SIGMAS))]
            if cmd == "deblur":
                case.argv += ["--kernel", str(rng.choice(KERNEL_SPECS))]
            if cmd == "inpaint":
                case.argv += ["--mask", _write(folder, "m.png", mask_bytes(rng, 24, 24))]
            if cmd == "enhance" and method == "match-histogram":
                case.argv += ["--reference", _good_image(folder, rng, "r.png")]
        elif cmd == "degrade":
            case.argv = ["degrade", img, "-o", str(rng.choice(["d.png", "d.npy", "d.tif"]))]
            for opt, values in (
                ("--noise", NOISE_SPECS),
                ("--blur", KERNEL_SPECS),
                ("--mask", MASK_SPECS),
                ("--jpeg", ["0", "1", "50", "100", "101", "-3", "q"]),
                ("--downscale", ["1", "2", "3", "4", "5", "0", "x"]),
                ("--contrast", ["0", "0.5", "1", "1.5", "-1", "nan"]),
            ):
                if rng.random() < 0.35:
                    case.argv += [opt, str(rng.choice(values))]
            if rng.random() < 0.2:
                case.argv.append("--float")
        elif cmd == "histogram":
            case.argv = [
                "histogram",
                img,
                "-o",
                "h.png",
                "--bins",
                str(rng.choice(["1", "2", "256", "65536", "0", "x"])),
            ]
        elif cmd == "compare":
            case.argv = ["compare", img, _good_image(folder, rng, "b.png"), "-o", "g.png"]
            if rng.random() < 0.5:
                case.argv += ["--columns", str(rng.choice(["0", "1", "3", "-2", "1000"]))]
            if rng.random() < 0.5:
                case.argv += ["--titles", str(rng.choice(["a,b", "", ",,,,", "x" * 500, "\u00e9,\u4e2d"]))]
            if rng.random() < 0.3:
                case.argv += ["--ref", _good_image(folder, rng, "c.png")]
        else:
            case.argv = [
                "metrics",
                img,
                _good_image(folder, rng, "b.png", size=(24, 24)),
                "--crop",
                str(rng.choice(["0", "3", "12", "100", "-1"])),
            ] + (["--y"] if rng.random() < 0.5 else [])
    elif family == "outputs":
        img = _good_image(folder, rng, "in.png", size=(20, 20))
        (folder / "sub").mkdir()
        out = str(rng.choice(OUT_NAMES))
        (folder / "link.png").symlink_to("in.png")
        if rng.random() < 0.2:
            out = str(rng.choice(["in.png", "./in.png", "link.png", "sub/../in.png"]))
        cmd = str(rng.choice(["denoise", "degrade", "enhance", "histogram", "compare"]))
        extra = {
            "denoise": ["-m", "median"],
            "degrade": ["--noise", "gaussian:5"],
            "enhance": ["-m", "gamma"],
            "histogram": [],
            "compare": [],
        }[cmd]
        case.argv = [cmd, img] + (["in.png"] if cmd == "compare" else []) + ["-o", out] + extra
        if cmd == "enhance" and rng.random() < 0.5:
            case.argv = ["enhance", img, "-o", "w.png", "--save-plan", out]
        if rng.random() < 0.2:
            case.argv.append("--overwrite") if cmd in ("denoise", "degrade", "enhance") else None
    elif family == "batch":
        (folder / "IN" / "deep").mkdir(parents=True)
        for i in range(int(rng.integers(1, 5))):
            if rng.random() < 0.5:
                _bad_image(folder, rng, f"IN/deep/f{i}" if i % 2 else f"IN/f{i}")
            else:
                _good_image(folder, rng, f"IN/g{i}.png", size=(20, 20))
        _write(folder, "IN/notes.txt", "not an image")
        if rng.random() < 0.2:
            import os

            os.mkfifo(folder / "IN" / "pipe.png")
        out = str(rng.choice(["OUT", "OUT", "IN", "IN/sub", "ro/OUT", "in-file"]))
        if out == "in-file":
            _write(folder, "in-file", "x")
        case.argv = ["batch", "IN", out, "-m", str(rng.choice(["median", "gamma", "clahe", "nlm", "nosuch"]))]
        if rng.random() < 0.3:
            case.argv += ["--sigma", str(rng.choice(SIGMAS))]
        if rng.random() < 0.2:
            case.argv += ["--pattern", str(rng.choice(["*.png", "[", "**/*", ""]))]
        if rng.random() < 0.3:
            case.argv.append("--json")
    else:  # api
        case.kind = "api"
        task = str(rng.choice(list(FAST_METHODS)))
        shape = [int(rng.choice([0, 1, 2, 3, 7, 16, 24]))] + [int(rng.choice([1, 2, 5, 16, 24]))]
        if rng.random() < 0.5:
            shape.append(int(rng.choice([1, 2, 3, 4, 5])))
        if rng.random() < 0.05:
            shape = [int(rng.choice([0, 3, 8]))] * int(rng.choice([1, 4]))
        method = str(rng.choice(FAST_METHODS[task]))
        case.api = {
            "task": task,
            "method": method,
            "shape": shape,
            "dtype": str(
                rng.choice(
                    [
                        "float32",
                        "float32",
                        "float64",
                        "uint8",
                        "uint16",
                        "int32",
                        "bool",
                        "complex64",
                        "float16",
                        "object",
                    ]
                )
            ),
            "fill": str(rng.choice(["random", "random", "zeros", "ones", "nan", "inf", "negative", "huge"])),
            "sigma": rng.choice([None, "auto", 0, 25, -3, float("nan"), 1e9, "abc", 0.1]),
            "params": dict(a.split("=", 1) for a in _param_args(task, method, rng) if "=" in a),
            "kernel": str(rng.choice(KERNEL_SPECS)) if task == "deblur" else None,
            "mask": str(rng.choice(["random", "none", "empty", "full", "wrong-shape"])) if task == "inpaint" else None,
            "seed": int(rng.integers(1 << 30)),
        }
        if isinstance(case.api["sigma"], float) and case.api["sigma"] != case.api["sigma"]:
            case.api["sigma"] = "nan"
        case.note = f"{task}/{method}"
    if case.kind == "cli" and rng.random() < 0.03:
        case.subprocess = True  # the real console entry point, in its own process
    return case
