"""Issue 15: the corpus fuzzer (``make fuzz`` runs 5,000+ cases); here a short seeded slice and proof
that its checks catch each kind of failure."""

from __future__ import annotations

import io
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz import corpus, runner  # noqa: E402


@pytest.mark.slow
def test_a_seeded_slice_of_the_corpus_keeps_every_promise():
    n = int(os.environ.get("IMAGEWIZARD_FUZZ_SLICE", "80"))
    totals = runner.run(seed=20261206, indices=list(range(n)), jobs=1, timeout=60)
    assert totals.cases == n
    assert len(totals.families) >= 6, totals.families  # the slice reaches most families
    assert not totals.failures, "\n".join(f"{f['case']}: {f['problems']} {f['stderr']}" for f in totals.failures)


@pytest.mark.slow
def test_the_runner_catches_hangs_crashes_leaks_extra_lines_and_harm():
    faults = {0: "hang", 1: "crash", 2: "multiline", 3: "traceback", 4: "harm"}
    totals = runner.run(seed=3, indices=list(faults), jobs=1, timeout=3, selftest=faults)
    found = {f["index"]: " ".join(f["problems"]) for f in totals.failures}
    assert set(found) == set(faults), found
    assert found[0].startswith("hang")
    assert found[1].startswith("crash") and "SIGSEGV" in found[1]
    assert "2 error lines" in found[2]
    assert "leak" in found[3] and "Traceback" in found[3]
    assert "harmed input: victim.png" in found[4]


def test_cases_are_reproducible_from_seed_and_index(tmp_path):
    for index in range(40):
        a, b = tmp_path / f"a{index}", tmp_path / f"b{index}"
        a.mkdir()
        b.mkdir()
        ca, cb = corpus.make_case(5, index, a), corpus.make_case(5, index, b)
        assert ca.argv == cb.argv and ca.api == cb.api
        assert runner._digest(a) == runner._digest(b)


@pytest.mark.parametrize("fmt", corpus.IMAGE_FORMATS)
def test_every_seed_format_is_a_valid_image(tmp_path, fmt):
    from imagewizard.io import read

    data = corpus.seed_bytes(fmt, np.random.default_rng(0), (20, 30))
    path = tmp_path / ("x" + corpus._SUFFIX[fmt])
    path.write_bytes(data)
    img = read(path)
    img, _info = img
    assert img.shape[:2] == (20, 30)


def test_png_header_mutation_keeps_a_valid_crc_so_decoders_believe_it():
    seed = corpus.seed_bytes("png8", np.random.default_rng(0), (16, 16))
    sizes = set()
    for i in range(20):
        b = bytearray(seed)
        corpus._png_dims(b, np.random.default_rng(i))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(bytes(b))) as im:
                    sizes.add(im.size)
        except Exception:  # noqa: BLE001 - zero sizes and bad colour types are refused by Pillow
            pass
    assert any(w * h > 10**8 for w, h in sizes), sizes  # bombs that pass the CRC check


def test_every_byte_mutator_changes_the_file():
    seed = corpus.seed_bytes("npy", np.random.default_rng(0), (16, 16))
    for name, fn in corpus.BYTE_MUTATORS.items():
        changed = False
        for i in range(5):
            b = bytearray(seed)
            fn(b, np.random.default_rng(i))
            changed |= bytes(b) != seed
        assert changed, name


def test_text_mutations_include_hostile_yaml():
    seen = set()
    for i in range(300):
        _text, names = corpus.mutate_text(corpus.pipeline_text(np.random.default_rng(i)), np.random.default_rng(i))
        seen.update(names)
    assert {"yaml-bomb", "garbage", "value", "key", "truncate"} <= seen
