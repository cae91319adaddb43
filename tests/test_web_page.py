"""The page of ``imagewizard serve`` in a real browser: headless Chromium (Debian's ``chromium``)
driven by Playwright from PyPI, against a real server on loopback.

Skips with the reason where Chromium or Playwright is missing (README: ``apt-get install -y
chromium``). With ``IMAGEWIZARD_SCREENSHOTS=1`` the screenshots are written into
``docs/screenshots/`` (the README's), otherwise into the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

CHROMIUM = os.environ.get("IMAGEWIZARD_CHROMIUM", "/usr/bin/chromium")
if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
    pytest.skip(
        f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` (see README)",
        allow_module_level=True,
    )

from PIL import Image  # noqa: E402

from imagewizard.analysis.metrics import psnr  # noqa: E402
from imagewizard.samples import sample  # noqa: E402
from imagewizard.web.app import create_app  # noqa: E402
from imagewizard.web.settings import Settings  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
TOKEN = "page-test-token-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, settings: Settings):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            assert time.time() - t0 < 60, "the server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def server():
    with LiveServer(Settings(workers=1, max_pixels=2_000_000)) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("page")
    rng = np.random.default_rng(0)
    photo = sample("astronaut")[::3, ::3][:160, :160]
    dirty = np.clip(photo + rng.normal(0, 20 / 255, photo.shape), 0, 1)
    Image.fromarray((photo * 255).round().astype(np.uint8)).save(d / "clean.png")
    Image.fromarray((dirty * 255).round().astype(np.uint8)).save(d / "noisy.png")
    big = sample("coffee")
    Image.fromarray((big * 255).round().astype(np.uint8)).save(d / "coffee.jpg", quality=92)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    return d


def shot(page, name: str, tmp_path: Path) -> None:
    folder = DOCS if os.environ.get("IMAGEWIZARD_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def open_page(browser, server, **kw):
    page = browser.new_page(accept_downloads=True, **kw)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelectorAll('#task option').length > 0")
    return page, errors


def test_wizard_flow_upload_plan_run_slider_histograms_download(browser, server, files, tmp_path):
    page, errors = open_page(browser, server, viewport={"width": 1100, "height": 900})
    page.set_input_files("#files", str(files / "noisy.png"))
    page.wait_for_selector("#analysis:not([hidden])", timeout=90_000)
    assert "sigma" in page.inner_text("#measurements")
    plan = page.inner_text("#plan-steps")
    assert "denoise with" in plan and "noise" in plan  # each step with its reason
    page.click("summary")
    page.set_input_files("#truth", str(files / "clean.png"))
    page.click("#run")
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    page.wait_for_function("document.getElementById('hist-after').dataset.drawn === 'yes'")
    facts = page.inner_text("#result-facts")
    assert "PSNR" in facts and "megapixels per second" in facts
    # the slider moves the divide between before and after
    page.fill("#slider", "20")
    page.dispatch_event("#slider", "input")
    assert "20%" in page.eval_on_selector("#img-after", "e => e.style.clipPath")
    page.wait_for_function(
        "document.getElementById('img-after').complete && document.getElementById('img-after').naturalWidth > 0"
    )
    shot(page, "web-wizard.png", tmp_path)
    with page.expect_download() as d:
        page.click("#download")
    assert d.value.suggested_filename == "noisy-imagewizard.png"
    got = np.asarray(Image.open(d.value.path())).astype(np.float32) / 255
    clean = np.asarray(Image.open(files / "clean.png")).astype(np.float32) / 255
    dirty = np.asarray(Image.open(files / "noisy.png")).astype(np.float32) / 255
    assert got.shape == clean.shape
    assert psnr(clean, got) > psnr(clean, dirty) + 2  # the downloaded pixels are the repaired ones
    with page.expect_download() as d:
        page.click("#save-plan")
    assert "steps:" in Path(d.value.path()).read_text() and "denoise" in Path(d.value.path()).read_text()
    assert errors == []


def test_a_corrupt_file_shows_a_readable_error_beside_the_upload(browser, server, files):
    page, errors = open_page(browser, server)
    page.set_input_files("#files", str(files / "broken.png"))
    page.wait_for_function("document.getElementById('image-error').textContent.length > 0")
    assert "broken.png: corrupt PNG file" in page.inner_text("#image-error")
    assert errors == []


def test_method_form_from_the_registry_errors_then_a_queue_of_two_and_a_zip(browser, server, files, tmp_path):
    page, errors = open_page(browser, server, viewport={"width": 1100, "height": 900})
    page.set_input_files("#files", [str(files / "noisy.png"), str(files / "clean.png")])
    page.check("input[value=method]")
    page.select_option("#task", "denoise")
    page.select_option("#method", "median")
    size = page.locator("#params input[data-param=size]")
    assert size.get_attribute("min") == "1" and size.get_attribute("step") == "1"
    size.fill("0")  # below the declared range: refused before anything is sent
    page.click("#run")
    assert "size" in page.inner_text("#method-error")
    assert page.locator("#queue tbody tr").count() == 0
    size.fill("5")
    page.click("#run")
    page.wait_for_function(
        "[...document.querySelectorAll('#queue tbody .state')].filter(e => e.textContent === 'done').length === 2",
        timeout=60_000,
    )
    shot(page, "web-queue.png", tmp_path)
    with page.expect_download() as d:
        page.click("#zip")
    names = zipfile.ZipFile(d.value.path()).namelist()
    assert sorted(names) == ["clean-imagewizard.png", "noisy-imagewizard.png"]
    assert errors == []


def test_keyboard_only_and_a_phone_sized_screen(browser, server, files, tmp_path):
    page, errors = open_page(browser, server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    fits = "window.innerWidth === 390 && document.scrollingElement.scrollWidth <= 391"  # no sideways scrolling
    assert page.evaluate(fits)
    page.check("input[value=method]")
    page.select_option("#task", "denoise")
    page.select_option("#method", "median")
    page.set_input_files("#files", str(files / "coffee.jpg"))
    for _ in range(60):  # Tab until the Run button has the focus, then Enter
        if page.evaluate("document.activeElement && document.activeElement.id") == "run":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "run"
    page.keyboard.press("Enter")
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    page.wait_for_function("document.getElementById('img-before').naturalWidth > 0")
    assert page.evaluate(fits)
    # zoom to 100 % at a point: the viewer scrolls to show it at full size
    page.click("#viewer .stack", position={"x": 150, "y": 100})
    assert "zoomed" in page.get_attribute("#viewer", "class")
    assert page.evaluate("document.getElementById('viewer').scrollLeft") > 0
    page.focus("#viewer")
    page.keyboard.press("ArrowLeft")
    assert page.input_value("#slider") == "45"
    shot(page, "web-phone.png", tmp_path)
    with page.expect_download() as d:
        page.click("#download")
    assert d.value.suggested_filename == "coffee-imagewizard.jpg"
    assert Image.open(d.value.path()).format == "JPEG"
    assert errors == []


def test_the_page_asks_for_the_token_once(browser):
    with LiveServer(Settings(workers=1, tokens=(TOKEN,))) as s:
        page = browser.new_page()
        page.goto(s.url + "/")
        page.wait_for_selector("#token-box:not([hidden])")
        page.fill("#token", "wrong-token-123")
        page.click("#token-form button")
        page.wait_for_function("document.getElementById('token-error').textContent.length > 0")
        page.fill("#token", TOKEN)
        page.click("#token-form button")
        page.wait_for_selector("#token-box", state="hidden")
        assert page.locator("#task option").count() > 0
        page.reload()  # remembered: not asked again
        page.wait_for_function("document.querySelectorAll('#task option').length > 0")
        assert page.is_hidden("#token-box")


def test_a_pipeline_file_runs_and_a_running_job_is_cancelled(browser, server, files, tmp_path):
    steps = "\n".join("  - {method: wavelet, sigma: 20}" for _ in range(25))
    (tmp_path / "slow.yaml").write_text(f"name: slow\nsteps:\n{steps}\n")
    Image.fromarray((sample("coffee")[:300, :300] * 255).round().astype(np.uint8)).save(tmp_path / "big.png")
    page, errors = open_page(browser, server)
    page.set_input_files("#files", str(tmp_path / "big.png"))
    page.check("input[value=pipeline]")
    page.set_input_files("#pipeline-file", str(tmp_path / "slow.yaml"))
    page.click("#run")
    page.wait_for_function(
        "(() => { const r = document.querySelector('#queue tbody tr');"
        " return r && r.querySelector('.state').textContent === 'running' && r.querySelector('progress').value > 0; })()",
        timeout=60_000,
    )
    assert "step" in page.inner_text("#queue tbody tr .progress-text")  # the current step and an ETA
    page.click("#queue tbody tr button:has-text('Cancel')")
    page.wait_for_function("document.querySelector('#queue tbody tr .state').textContent === 'cancelled'")
    assert "cancelled while running" in page.inner_text("#queue tbody tr")
    assert errors == []
