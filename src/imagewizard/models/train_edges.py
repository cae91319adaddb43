"""Train the boundary network (:mod:`imagewizard.models.archs.edgenet`) on BSDS500's human boundaries.

Data: BSDS500 ``train`` and ``val`` images with the annotators' ``Boundaries`` (the benchmark's
protocol: ``test`` is never seen), a few ``val`` images held out to pick the checkpoint. Labels as
RCF/PiDiNet do: a pixel is a boundary when at least ``eta`` of the annotators marked it, background
when none did, and ignored in between; the loss is class-balanced binary cross-entropy on every side
output and the fusion (HED's deep supervision). Crops with flips, 90-degree turns and a little colour
jitter. Validation: boundary F at the best fixed threshold on the held-out images, with a
distance-transform matching (the exact BSDS matching is in :mod:`imagewizard.analysis.segmentation`
and is used by the benchmark). Weights (safetensors + card) are written only when validation improves;
``checkpoint.pt`` lets a later session resume.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass
class EdgeConfig:
    #: A BSDS500 folder (images/, groundTruth/), or "bsds500": found as the benchmark finds it
    #: ($IMAGEWIZARD_DATA/bsds500 or ./data/bsds500).
    data: str = "bsds500"
    out: str = "runs/edges"
    name: str = "edgenet-bsds"
    steps: int = 6000
    batch: int = 8
    crop: int = 160
    lr: float = 2e-3
    lr_min: float = 1e-5
    eta: float = 0.3
    pos_weight: float = 1.1
    held_out: int = 16
    val_every: int = 500
    checkpoint_every: int = 100
    threads: int = 1
    seed: int = 0
    widths: tuple = (24, 48, 96, 128)
    convs: tuple = (2, 2, 3, 3)


def read_bsds(folder: Path, split: str) -> list[tuple[str, np.ndarray, list[np.ndarray], list[np.ndarray]]]:
    """``(id, rgb uint8, [segmentations], [boundaries])`` for every image of ``split`` with ground truth."""
    from imagewizard.io.reading import read
    from imagewizard.tasks.segment.truth import read_bsds_truth

    out = []
    for img in sorted((folder / "images" / split).glob("*.jpg")):
        gt = folder / "groundTruth" / split / f"{img.stem}.mat"
        if gt.exists():
            segs, bnds = read_bsds_truth(gt)
            out.append((img.stem, np.round(read(img)[0] * 255).astype(np.uint8), segs, bnds))
    return out


def label_of(bnds: list[np.ndarray], eta: float) -> np.ndarray:
    """1 boundary, 0 background, 2 ignored (some annotators but fewer than ``eta`` of them)."""
    mean = np.mean([b > 0 for b in bnds], axis=0)
    lab = np.full(mean.shape, 2, np.uint8)
    lab[mean == 0] = 0
    lab[mean >= eta] = 1
    return lab


def _batch(data, cfg: EdgeConfig, rng: np.random.Generator):
    import torch

    xs, ys = [], []
    for _ in range(cfg.batch):
        img, lab = data[rng.integers(len(data))]
        h, w = lab.shape
        c = min(cfg.crop, h, w)
        i, j = rng.integers(h - c + 1), rng.integers(w - c + 1)
        x, y = img[i : i + c, j : j + c].astype(np.float32) / 255.0, lab[i : i + c, j : j + c]
        k = rng.integers(4)
        x, y = np.rot90(x, k), np.rot90(y, k)
        if rng.random() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        x = np.clip(x * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08), 0, 1)
        xs.append(np.ascontiguousarray(x.transpose(2, 0, 1)))
        ys.append(np.ascontiguousarray(y))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys)[:, None])


def balanced_bce(logits, lab, pos_weight: float = 1.1):
    """RCF's loss: positives weighted by the share of negatives (times ``pos_weight``), ignored pixels out."""
    import torch
    import torch.nn.functional as F

    pos, neg = (lab == 1).float(), (lab == 0).float()
    n_pos, n_neg = pos.sum(), neg.sum()
    total = n_pos + n_neg
    w = pos * (pos_weight * n_neg / total) + neg * (n_pos / total)
    return F.binary_cross_entropy_with_logits(logits, pos, weight=w, reduction="sum") / max(
        1.0, float(lab.shape[0])
    ) / 1000.0 + 0 * torch.zeros(())


def predict(model, img_u8: np.ndarray) -> np.ndarray:
    """The fused boundary probability (H, W) float32 for one RGB uint8 image."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(img_u8.transpose(2, 0, 1))).float()[None] / 255.0
    with torch.no_grad():
        return torch.sigmoid(model(x)[-1])[0, 0].numpy()


def quick_f(probs: list[np.ndarray], truths: list[list[np.ndarray]]) -> float:
    """Dataset-best boundary F over fixed thresholds, matching by distance (a fast stand-in for BSDS)."""
    from scipy import ndimage as ndi
    from skimage.morphology import thin

    thresholds = np.linspace(0.05, 0.95, 19)
    cnt = np.zeros((len(thresholds), 4))  # matched pred, pred, matched gt, gt
    for p, bnds in zip(probs, truths):
        tol = 0.0075 * math.hypot(*p.shape)
        gts = [b > 0 for b in bnds]
        dts = [ndi.distance_transform_edt(~g) for g in gts]
        for t_i, t in enumerate(thresholds):
            e = thin(p >= t)
            de = ndi.distance_transform_edt(~e) if e.any() else np.full(e.shape, np.inf)
            hit = np.zeros_like(e)
            for g, dt in zip(gts, dts):
                hit |= e & (dt <= tol)
                cnt[t_i, 2] += np.count_nonzero(g & (de <= tol))
                cnt[t_i, 3] += np.count_nonzero(g)
            cnt[t_i, 0] += np.count_nonzero(hit)
            cnt[t_i, 1] += np.count_nonzero(e)
    prec = cnt[:, 0] / np.maximum(cnt[:, 1], 1)
    rec = cnt[:, 2] / np.maximum(cnt[:, 3], 1)
    f = 2 * prec * rec / np.maximum(prec + rec, 1e-9)
    return float(f.max())


def train_edges(cfg: EdgeConfig, *, resume: str | None = None, log: Callable[[str], None] = print) -> Path:
    import torch

    from imagewizard.models.archs import build
    from imagewizard.io.files import atomic_write
    from imagewizard.models.train import _load_checkpoint, _save_atomic
    from imagewizard.models.weights import save_model

    state = None
    if resume:
        state = _load_checkpoint(Path(resume))
        saved = state["config"]
        cfg = EdgeConfig(
            **{
                **saved,
                "steps": max(cfg.steps, saved["steps"]),
                "widths": tuple(saved["widths"]),
                "convs": tuple(saved["convs"]),
            }
        )
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(cfg.data)
    if not folder.is_dir() and cfg.data.lower() == "bsds500":
        from imagewizard.bench.datasets import find_named_set
        from imagewizard.core.errors import ParameterError

        found = find_named_set("bsds500")
        if found is None:
            raise ParameterError(
                "BSDS500 not found: give data=FOLDER or set IMAGEWIZARD_DATA to a folder holding bsds500/"
            )
        folder = found
    t0 = time.time()
    train = read_bsds(folder, "train")
    val = read_bsds(folder, "val")
    held, val = val[-cfg.held_out :], val[: -cfg.held_out]
    data = [(img, label_of(b, cfg.eta)) for _, img, _, b in train + val]
    log(f"{len(data)} training images, {len(held)} held out ({time.time() - t0:.0f} s to read)")
    arch_cfg = {"widths": tuple(cfg.widths), "convs": tuple(cfg.convs)}
    model, arch_cfg = build("edgenet", **arch_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    step, best, history, wall = 0, -math.inf, [], 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, best, history, wall = state["step"], state["best"], state["history"], state.get("wall", 0.0)
        log(f"resumed at step {step} (best validation F {best:.4f})")
    rng = np.random.default_rng(cfg.seed + step)
    t_start, t_log, losses = time.time(), time.time(), []
    ckpt = out / "checkpoint.pt"
    while step < cfg.steps:
        model.train()
        warm = min(1.0, (step + 1) / 200)
        lr_now = warm * (cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * step / cfg.steps)))
        for g in opt.param_groups:
            g["lr"] = lr_now
        x, y = _batch(data, cfg, rng)
        outs = model(x)
        loss = sum(balanced_bce(o, y, cfg.pos_weight) for o in outs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if time.time() - t_log > 60:
            log(
                f"step {step}/{cfg.steps} loss {np.mean(losses):.4f} lr {lr_now:.2e} ({(time.time() - t_start) / max(1, len(losses)):.2f} s/step)"
            )
            t_log, losses = time.time(), []
        if step % cfg.val_every == 0 or step == cfg.steps:
            model.eval()
            f = quick_f([predict(model, img) for _, img, _, _ in held], [b for _, _, _, b in held])
            history.append({"step": step, "val_f": f})
            log(f"val step {step}: F {f:.4f} (best {max(best, f):.4f})")
            if f > best:
                best = f
                card = {
                    "task": "segment",
                    "method": "learned",
                    "data": {
                        "folder": cfg.data,
                        "train": f"BSDS500 train ({len(train)}) + val ({len(val)}); test never seen",
                        "held_out": [n for n, *_ in held],
                        "labels": f"boundary where >= {cfg.eta} of annotators agree, ignored where fewer but some",
                    },
                    "command": " ".join(["imagewizard", "train", "edges", *sys.argv[3:]])
                    if "edges" in sys.argv
                    else "python -m imagewizard.models.train_edges",
                    "steps": step,
                    "wall_time_hours": round((wall + time.time() - t_start) / 3600, 3),
                    "validation": {"boundary_f_held_out_fast_matching": f},
                    "params": sum(p.numel() for p in model.parameters()),
                }
                save_model(out / f"{cfg.name}.safetensors", model.state_dict(), "edgenet", arch_cfg, card)
                log(f"  new best: wrote {out / cfg.name}.safetensors")
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            _save_atomic(
                {
                    "config": asdict(cfg),
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "best": best,
                    "history": history,
                    "wall": wall + time.time() - t_start,
                },
                ckpt,
                resumed=Path(resume) if resume else None,
            )
    atomic_write(out / "history.json", json.dumps(history, indent=1) + "\n", what="training history")
    return out / f"{cfg.name}.safetensors"


def main(argv: list[str] | None = None) -> None:  # python -m imagewizard.models.train_edges [--resume CKPT] [k=v ...]
    argv = list(sys.argv[1:] if argv is None else argv)
    resume = None
    if "--resume" in argv:
        i = argv.index("--resume")
        resume = argv[i + 1]
        del argv[i : i + 2]
    kw: dict[str, Any] = {}
    for a in argv:
        k, v = a.split("=", 1)
        default = getattr(EdgeConfig, k)
        kw[k] = tuple(int(t) for t in v.split(",")) if isinstance(default, tuple) else type(default)(v)
    train_edges(EdgeConfig(**kw), resume=resume, log=lambda m: print(time.strftime("%H:%M:%S"), m, flush=True))


if __name__ == "__main__":
    main()
