"""Progress of one image's work: stages and tiles reported, shown by the CLI only when asked or on a terminal."""

from __future__ import annotations

import numpy as np
from PIL import Image

from imagewizard.core.progress import active, report, reporting
from imagewizard.run.pipeline import Pipeline
from imagewizard.run.tiling import apply_tiled


def test_nothing_listens_by_default_and_reports_are_free():
    assert not active()
    report(1, 2)  # no reporter: nothing happens
    seen = []
    with reporting(lambda *a: seen.append(a)):
        assert active()
        report(1, 3)
    assert seen == [("", 1, 3)] and not active()


def test_pipeline_names_its_steps_and_tiles_are_counted_once():
    seen = []
    img = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    p = Pipeline.from_dict({"steps": [{"method": "median", "params": {"size": 3}}, {"method": "gamma"}]})
    with reporting(lambda *a: seen.append(a)):
        p.run(img, tile_above=100, tile=16)  # median is local (has a halo): 3 x 4 tiles
    starts = [s for s, d, t in seen if t is None]
    assert starts == ["step 1/2: denoise median", "step 2/2: enhance gamma"]
    tiles = [(d, t) for s, d, t in seen if s.startswith("step 1") and t is not None]
    assert tiles == [(k, 12) for k in range(1, 13)]
    # a tiled function's own inner reports are not mixed into the outer count
    inner = []
    with reporting(lambda *a: inner.append(a)):
        apply_tiled(lambda t: (report(1, 99), t)[1], img, tile=25, halo=2)
    assert [t for _, _, t in inner] == [4, 4, 4, 4]


def test_learned_tiles_report_progress():
    import pytest

    torch = pytest.importorskip("torch")
    from imagewizard.models.archs import build
    from imagewizard.models.infer import run_tiled

    torch.manual_seed(0)
    net, _ = build("unet", channels=(8, 16), blocks=1, shuffle=2, in_channels=1)
    net.eval()
    seen = []
    with reporting(lambda *a: seen.append(a)):
        # 3x3 tiles of 40 px; each window (40 + 2 margins) is smaller than the 120-px image
        run_tiled(net, np.random.default_rng(0).random((120, 120)).astype(np.float32), 10.0, tile=40, threads=1)
    assert [(d, t) for _, d, t in seen] == [(k, 9) for k in range(1, 10)]


def test_cli_prints_plain_progress_lines_only_when_asked(tmp_path, capsys, monkeypatch):
    from imagewizard.cli.commands import main

    src = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(1).random((30, 30)) * 255).astype(np.uint8)).save(src)
    assert main(["enhance", str(src), "-o", str(tmp_path / "a.png"), "-m", "gamma"]) == 0
    assert "started" not in capsys.readouterr().err  # not a terminal: quiet
    monkeypatch.setenv("IMAGEWIZARD_PROGRESS", "1")
    assert main(["enhance", str(src), "-o", str(tmp_path / "b.png"), "-m", "gamma"]) == 0
    assert "enhance gamma: started" in capsys.readouterr().err
