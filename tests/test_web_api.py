"""The REST API of ``imagewizard serve``, through FastAPI's test client: every endpoint, every
limit, bad uploads and parameters, a job cancelled midway. Jobs run in real worker processes."""

from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

import imagewizard as iw  # noqa: E402
from imagewizard.web.app import create_app  # noqa: E402
from imagewizard.web.pool import JobTable  # noqa: E402
from imagewizard.web.settings import Settings, check_binding, tokens_from  # noqa: E402

TOKEN_A, TOKEN_B = "token-aaaa-1234", "token-bbbb-5678"
#: a slow job: many steps of a method that takes a fraction of a second on 300x300
SLOW_PIPELINE = json.dumps({"steps": [{"method": "wavelet", "sigma": 20}] * 25})


def png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


def noisy(h=64, w=64, seed=0, sigma=0.08) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    clean = np.stack([0.3 + 0.4 * xx / w, 0.5 + 0.2 * np.sin(yy / 6), 0.4 + 0.3 * yy / h], -1)
    return (np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1) * 255).round().astype(np.uint8)


def wait(client, job_id: str, timeout: float = 60.0, headers=None) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        r = client.get(f"/api/jobs/{job_id}", headers=headers)
        view = r.json()
        if view["state"] in ("done", "failed", "cancelled"):
            assert getattr(client, "server_root", "/tmp/imagewizard-web-") not in r.text  # no server path, ever
            return view
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {view}")


@pytest.fixture(scope="module")
def client():
    app = create_app(Settings(workers=1, max_upload_mb=1.0, max_pixels=400_000, max_queued=8, result_lifetime_s=600))
    with TestClient(app) as c:
        c.server_root = str(app.state.server.root)
        yield c


def submit(client, data=None, files=None, image=None, name="photo.png", **kw):
    files = dict(files or {})
    if "image" not in files:
        files["image"] = (name, image if image is not None else png(noisy()), "image/png")
    return client.post("/api/jobs", data=data or {}, files=files, **kw)


# --- declarations ---------------------------------------------------------------------------------


def test_health_tasks_methods_come_from_the_declarations(client):
    from imagewizard.core import registry
    from imagewizard.core.task import all_tasks

    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["workers"] == 1 and h["limits"]["max_pixels"] == 400_000
    assert [t["name"] for t in client.get("/api/tasks").json()] == [t.name for t in all_tasks()]
    methods = client.get("/api/methods").json()
    assert [(m["task"], m["name"]) for m in methods] == [(m.task, m.name) for m in registry.methods()]
    nlm = next(m for m in methods if m["name"] == "nlm")
    assert {p["name"] for p in nlm["params"]} == {p.name for p in registry.get("denoise", "nlm").params}
    assert all(m["task"] == "deblur" for m in client.get("/api/methods?task=deblur").json())
    r = client.get("/api/methods?task=nope")
    assert r.status_code == 404 and "unknown task 'nope'" in r.json()["error"]
    assert client.get("/openapi.json").json()["paths"].keys() >= {
        "/api/tasks",
        "/api/methods",
        "/api/analyze",
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/result",
        "/api/jobs/{job_id}/events",
        "/api/health",
    }
    r = client.get("/api/unknown")
    assert r.status_code == 404 and r.json() == {"error": "no such address: /api/unknown"}
    page = client.get("/")
    assert page.status_code == 200 and "ImageWizard" in page.text and "/static/app.js" in page.text


# --- analyse and run --------------------------------------------------------------------------------


def test_analyze_measures_and_plans_without_changing_anything(client):
    r = client.post("/api/analyze", files={"image": ("noisy.png", png(noisy(96, 96, sigma=20 / 255)), "image/png")})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["name"] == "noisy.png" and a["image"]["width"] == 96
    assert 14 < a["measurements"]["noise_sigma"] < 26  # 20 added
    steps = a["plan"]["steps"]
    assert steps[0]["task"] == "denoise" and len(a["reasons"]) >= len(steps)
    assert client.get("/api/jobs").json() == []  # an analysis is not a job


def test_method_job_matches_the_python_api_and_keeps_the_format(client):
    arr = noisy()
    r = submit(client, {"task": "denoise", "method": "median", "params": '{"size": 3}'}, image=png(arr))
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/api/jobs/{job['id']}" and job["state"] in ("queued", "running")
    view = wait(client, job["id"])
    assert view["state"] == "done", view
    res = view["result"]
    assert res["steps"][0]["method"] == "median" and res["steps"][0]["params"] == {"size": 3}
    assert res["image"]["format"] == "PNG" and res["megapixels_per_second"] > 0
    out = client.get(f"/api/jobs/{job['id']}/result")
    assert out.status_code == 200 and 'filename="photo-imagewizard.png"' in out.headers["content-disposition"]
    got = np.asarray(Image.open(io.BytesIO(out.content)))
    want = np.round(iw.denoise(arr.astype(np.float32) / 255, method="median", size=3) * 255).astype(np.uint8)
    assert np.array_equal(got, want)
    hist = client.get(f"/api/jobs/{job['id']}/histograms").json()
    assert set(hist) == {"before", "after"} and sum(hist["before"]["r"]) == arr.shape[0] * arr.shape[1]
    assert np.array_equal(hist["before"]["g"], np.bincount(arr[..., 1].ravel(), minlength=256))
    prev = client.get(f"/api/jobs/{job['id']}/preview/after")
    assert prev.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(prev.content))), got)


def test_16bit_tiff_and_alpha_survive_a_job(client):
    rng = np.random.default_rng(1)
    tif = (rng.random((40, 48, 3)) * 65535).astype(np.uint16)
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, tif, photometric="rgb")
    r = submit(client, {"method": "median"}, image=buf.getvalue(), name="scan.tiff")
    view = wait(client, r.json()["id"])
    assert view["state"] == "done", view
    out = client.get(f"/api/jobs/{view['id']}/result")
    assert 'filename="scan-imagewizard.tiff"' in out.headers["content-disposition"]
    back = tifffile.imread(io.BytesIO(out.content))
    assert back.dtype == np.uint16 and back.shape == tif.shape

    rgba = np.dstack([noisy(32, 32), np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))])
    r = submit(client, {"method": "median"}, image=png(rgba, "RGBA"), name="logo.png")
    view = wait(client, r.json()["id"])
    im = Image.open(io.BytesIO(client.get(f"/api/jobs/{view['id']}/result").content))
    assert im.mode == "RGBA" and np.array_equal(np.asarray(im)[..., 3], rgba[..., 3])


def test_exif_is_kept_and_any_file_name_is_safe(client):
    im = Image.fromarray(noisy(64, 64))
    exif = Image.Exif()
    exif[0x010F] = "ImageWizard Test Camera"  # Make
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    name = "фото 1.jpg"
    view = wait(client, submit(client, {"method": "median"}, image=buf.getvalue(), name=name).json()["id"])
    assert view["state"] == "done" and view["name"] == name
    out = client.get(f"/api/jobs/{view['id']}/result")
    got = Image.open(io.BytesIO(out.content))
    assert got.format == "JPEG" and got.getexif()[0x010F] == "ImageWizard Test Camera"
    assert "filename*=utf-8''%D1%84%D0%BE%D1%82%D0%BE" in out.headers["content-disposition"]
    plan = client.get(f"/api/jobs/{view['id']}/pipeline")
    assert plan.status_code == 200 and "____ 1-plan.yaml" in plan.headers["content-disposition"]
    # a name that tries to climb out of the job folder is only a name
    r = submit(client, {"method": "median"}, name="../../../../etc/passwd.png")
    assert wait(client, r.json()["id"])["name"] == "passwd.png"


def test_wizard_job_scores_against_a_clean_reference_and_replays_as_a_pipeline(client):
    from imagewizard.samples import sample

    photo = sample("astronaut")[100:164, 200:264]  # full tonal range: the plan is denoising only
    clean = (photo * 255).round().astype(np.uint8)
    rng = np.random.default_rng(0)
    dirty = (np.clip(photo + rng.normal(0, 25 / 255, photo.shape), 0, 1) * 255).round().astype(np.uint8)
    r = submit(client, files={"truth": ("clean.png", png(clean), "image/png")}, image=png(dirty))
    view = wait(client, r.json()["id"], timeout=120)
    assert view["state"] == "done", view
    res = view["result"]
    assert res["plan"] and res["reasons"]
    m = res["metrics"]
    assert m["after"]["psnr"] > m["before"]["psnr"] + 2 and m["after"]["ssim"] > m["before"]["ssim"]
    plan = client.get(f"/api/jobs/{view['id']}/pipeline?format=json")
    assert plan.status_code == 200 and "attachment" in plan.headers["content-disposition"]
    steps = plan.json()["steps"]
    assert [s["method"] for s in steps] == [s["method"] for s in res["plan"]]
    # the saved plan uploaded again runs the same steps and gives the same pixels
    r2 = submit(client, files={"pipeline": ("plan.json", plan.content, "application/json")}, image=png(dirty))
    view2 = wait(client, r2.json()["id"], timeout=120)
    assert [s["method"] for s in view2["result"]["steps"]] == [s["method"] for s in res["steps"]]
    a = client.get(f"/api/jobs/{view['id']}/result").content
    b = client.get(f"/api/jobs/{view2['id']}/result").content
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(a))), np.asarray(Image.open(io.BytesIO(b))))
    yaml_plan = client.get(f"/api/jobs/{view['id']}/pipeline").text
    assert "steps:" in yaml_plan


def test_inpaint_with_an_uploaded_mask_and_deblur_with_a_kernel_spec(client):
    img = noisy(48, 48, sigma=0)
    mask = np.zeros((48, 48), np.uint8)
    mask[20:26, 20:26] = 255
    r = submit(client, {"method": "telea"}, files={"mask": ("hole.png", png(mask), "image/png")}, image=png(img))
    assert r.status_code == 202, r.text
    assert wait(client, r.json()["id"])["state"] == "done"
    r = submit(client, {"task": "deblur", "method": "wiener", "kernel": "gaussian:1.5"}, image=png(img))
    assert r.status_code == 202, r.text
    assert wait(client, r.json()["id"])["state"] == "done"


def test_events_stream_follows_a_job_to_its_end(client):
    job = submit(client, {"method": "median"}).json()
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        states = [json.loads(line[6:])["state"] for line in s.iter_lines() if line.startswith("data: ")]
    assert states[-1] == "done" and len(states) >= 1


def test_zip_holds_every_result_under_its_own_name(client):
    ids = [wait(client, submit(client, {"method": "median"}).json()["id"])["id"] for _ in range(2)]
    z = client.get(f"/api/results.zip?ids={','.join(ids)}")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert names == ["photo-imagewizard.png", "photo-imagewizard-2.png"]
    assert client.get("/api/results.zip?ids=nope").status_code == 404


def test_cancel_midway_then_the_worker_is_replaced(client):
    big = png(noisy(300, 300))
    job = submit(client, {"pipeline": SLOW_PIPELINE}, image=big).json()
    t0 = time.time()
    while client.get(f"/api/jobs/{job['id']}").json()["progress"]["fraction"] == 0:
        assert time.time() - t0 < 60, "the slow job never progressed"
        time.sleep(0.05)
    view = client.delete(f"/api/jobs/{job['id']}").json()
    assert view["state"] == "cancelled" and 0 < view["progress"]["fraction"] < 1
    r = client.get(f"/api/jobs/{job['id']}/result")
    assert r.status_code == 409 and "cancelled" in r.json()["error"]
    # a fresh worker takes the next job
    assert wait(client, submit(client, {"method": "median"}).json()["id"])["state"] == "done"
    # a finished job is deleted with its files
    assert client.delete(f"/api/jobs/{job['id']}").json()["state"] == "deleted"
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404


# --- bad input: 4xx with a readable JSON error ---------------------------------------------------------


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="GIF")
    return buf.getvalue()


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((8, 8), np.float32))
    return buf.getvalue()


def _jpeg(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.mark.parametrize(
    "payload, status, words",
    [
        (b"not an image at all, just text", 415, "not an image file"),
        (b"", 422, "empty"),
        (_gif(), 415, "GIF files are not supported"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 422, "corrupt PNG"),
        (png(noisy())[:300], 422, "truncated PNG"),
        (_jpeg(noisy(128, 128))[:-300], 422, "truncated JPEG"),
        (_npy(), 415, ".npy files are not supported"),
        (png(np.zeros((700, 700), np.uint8)), 413, "exceeds this server's limit of 400,000 pixels"),
    ],
)
def test_bad_uploads_are_refused_with_the_reason(client, payload, status, words):
    for path in ("/api/jobs", "/api/analyze"):
        r = client.post(path, files={"image": ("photo.png", payload, "image/png")})
        assert r.status_code == status, (path, r.text)
        body = r.json()
        assert words in body["error"] and body["field"] == "image"
        assert "Traceback" not in r.text and client.server_root not in r.text


def test_too_large_a_body_is_413(client):
    r = submit(client, image=b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024))
    assert r.status_code == 413 and "at most 1 MiB" in r.json()["error"]


def test_requests_that_are_not_uploads(client):
    r = client.post("/api/jobs", json={"method": "median"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]
    r = client.post("/api/jobs", data={"method": "median"}, files={"other": ("x.png", png(noisy()), "image/png")})
    assert r.status_code == 400 and r.json()["field"] == "image"
    assert client.get("/api/jobs/0123456789abcdef").status_code == 404
    assert client.put("/api/jobs").status_code == 405


@pytest.mark.parametrize(
    "data, status, field, words",
    [
        ({"method": "nope"}, 422, "method", "unknown method 'nope'"),
        ({"method": "median", "params": '{"size": 0}'}, 422, "params", "must be >= "),
        ({"method": "median", "params": '{"bogus": 1}'}, 422, "params", "has no parameter 'bogus'"),
        ({"method": "median", "params": "{not json"}, 400, "params", "not valid JSON"),
        ({"method": "nlm", "sigma": "loud"}, 400, "sigma", "must be a number"),
        ({"method": "nlm", "sigma": "300"}, 422, "sigma", "[0, 255]"),
        ({"task": "deblur", "method": "wiener", "kernel": "/etc/passwd"}, 400, "kernel", "upload the file instead"),
        ({"task": "deblur", "method": "wiener", "kernel": "../x.npy"}, 400, "kernel", "upload the file instead"),
        ({"method": "telea"}, 422, "mask", "required by telea"),
        ({"pipeline": '{"steps": [{"method": "telea", "mask": "/etc/hosts"}]}'}, 400, "mask", "upload the mask"),
        ({"pipeline": "steps: [unclosed"}, 400, "pipeline", "not valid YAML or JSON"),
        ({"pipeline": '{"steps": []}'}, 422, "pipeline", "non-empty list"),
        ({"pipeline": '{"steps": [{"method": "median"}]}', "method": "median"}, 400, "pipeline", "not both"),
        ({"kernel": "gaussian:2"}, 400, "kernel", "needs a method"),
    ],
)
def test_bad_parameters_are_refused_before_any_work(client, data, status, field, words):
    before = len(client.get("/api/jobs").json())
    r = submit(client, data)
    assert r.status_code == status, r.text
    assert words in r.json()["error"] and r.json().get("field") == field, r.json()
    assert len(client.get("/api/jobs").json()) == before  # nothing was queued
    assert client.server_root not in r.text


def test_a_failed_job_names_its_problem_without_server_paths(client):
    # a header that parses but pixel data that does not: found by the worker's reader
    good = png(noisy())
    i = good.index(b"IDAT") + 8
    broken = good[:i] + bytes(len(good) - i - 12) + good[-12:]
    view = wait(client, submit(client, {"method": "median"}, image=broken, name="holiday.png").json()["id"])
    assert view["state"] == "failed" and view["error"].startswith("cannot read holiday.png")
    assert client.server_root not in json.dumps(view)


# --- limits that need their own server ---------------------------------------------------------------


def test_full_queue_is_429_with_retry_after_and_run_time_limit_stops_a_job():
    app = create_app(Settings(workers=1, max_queued=1, max_run_s=1.0, result_lifetime_s=600))
    with TestClient(app) as c:
        slow = submit(c, {"pipeline": SLOW_PIPELINE}, image=png(noisy(300, 300))).json()
        r = submit(c, {"method": "median"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "queue is full" in r.json()["error"]
        view = wait(c, slow["id"], timeout=60)
        assert view["state"] == "failed" and "ran past the limit of 1 s" in view["error"]
        assert submit(c, {"method": "median"}).status_code == 202  # room again


def test_results_and_files_are_deleted_after_their_lifetime():
    app = create_app(Settings(workers=1, result_lifetime_s=1.0))
    with TestClient(app) as c:
        job = wait(c, submit(c, {"method": "median"}).json()["id"])
        folder = app.state.server.root / job["id"]
        assert folder.is_dir() and c.get(f"/api/jobs/{job['id']}/result").status_code == 200
        t0 = time.time()
        while c.get(f"/api/jobs/{job['id']}").status_code == 200:
            assert time.time() - t0 < 10, "the job was never expired"
            time.sleep(0.2)
        assert not folder.exists()
        assert "deleted after 1 s" in c.get(f"/api/jobs/{job['id']}").json()["error"]
    assert not app.state.server.root.exists()  # the server's temporary folder goes with it


def test_job_table_expiry_is_by_finish_time(tmp_path):
    table = JobTable(tmp_path, lifetime_s=60, max_queued=4)
    old, new, running = (table.new("", "run", n) for n in "abc")
    old.finish("done")
    new.finish("done")
    old.finished -= 120
    assert table.expire() == 1 and table.get(old.id, "") is None and not old.folder.exists()
    assert table.get(new.id, "") is new and table.get(running.id, "") is running


# --- tokens ----------------------------------------------------------------------------------------------


def test_tokens_are_checked_and_jobs_are_private_to_their_token():
    app = create_app(Settings(workers=1, tokens=(TOKEN_A, TOKEN_B)))
    with TestClient(app) as c:
        r = c.get("/api/health")
        assert r.status_code == 401 and "token is needed" in r.json()["error"]
        assert c.get("/api/health", headers={"X-ImageWizard-Token": "wrong-token-0000"}).status_code == 401
        assert c.get("/api/methods", headers={"Authorization": f"Bearer {TOKEN_A}"}).status_code == 200
        assert c.get(f"/api/tasks?token={TOKEN_B}").status_code == 200
        assert c.get("/").status_code == 200  # the page itself asks for the token
        a = {"X-ImageWizard-Token": TOKEN_A}
        b = {"X-ImageWizard-Token": TOKEN_B}
        job = submit(c, {"method": "median"}, headers=a).json()
        wait(c, job["id"], headers=a)
        assert c.get(f"/api/jobs/{job['id']}", headers=b).status_code == 404
        assert c.get(f"/api/jobs/{job['id']}/result", headers=b).status_code == 404
        assert c.delete(f"/api/jobs/{job['id']}", headers=b).status_code == 404
        assert c.get("/api/jobs", headers=b).json() == []
        assert [j["id"] for j in c.get("/api/jobs", headers=a).json()] == [job["id"]]
        assert c.get(f"/api/jobs/{job['id']}/result?token={TOKEN_A}").status_code == 200


def test_binding_beyond_loopback_needs_a_token(monkeypatch):
    from imagewizard.core.errors import ParameterError

    check_binding("127.0.0.1", ())
    with pytest.raises(ParameterError, match="give a token"):
        check_binding("0.0.0.0", ())
    check_binding("0.0.0.0", (TOKEN_A,))
    monkeypatch.setenv("IMAGEWIZARD_TOKEN", f"{TOKEN_A}, {TOKEN_B}")
    assert tokens_from(None) == (TOKEN_A, TOKEN_B)
    assert tokens_from(["only-this-one"]) == ("only-this-one",)
    with pytest.raises(ParameterError, match="at least 8"):
        tokens_from(["short"])


def test_serve_command_refuses_an_open_binding_in_one_line(monkeypatch):
    from imagewizard.cli import main

    monkeypatch.delenv("IMAGEWIZARD_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8799"]) == 1


def test_jobs_run_on_a_dask_cluster_too():
    pytest.importorskip("distributed")
    app = create_app(Settings(cluster="local:1", max_run_s=120))
    with TestClient(app) as c:
        assert c.get("/api/health").json()["backend"] == "dask"
        view = wait(c, submit(c, {"method": "median"}).json()["id"], timeout=120)
        assert view["state"] == "done", view
        assert c.get(f"/api/jobs/{view['id']}/result").status_code == 200
        r = c.post("/api/analyze", files={"image": ("a.png", png(noisy()), "image/png")})
        assert r.status_code == 200 and r.json()["measurements"]["noise_sigma"] > 0


def test_the_upscale_task_appears_and_runs_from_its_declaration(client):
    tasks = {t["name"]: t for t in client.get("/api/tasks").json()}
    assert tasks["upscale"]["output"] == "image" and tasks["upscale"]["inputs"][0]["example"] == "2"
    view = wait(client, submit(client, {"method": "lanczos", "scale": "3"}, image=png(noisy(20, 30))).json()["id"])
    assert view["state"] == "done", view
    assert view["result"]["image"]["width"] == 30  # the input's facts; the result is 3x
    got = Image.open(io.BytesIO(client.get(f"/api/jobs/{view['id']}/result").content))
    assert got.size == (90, 60)
    r = submit(client, {"method": "lanczos", "scale": "12"})
    assert r.status_code == 422 and r.json()["field"] == "scale"
    r = submit(client, {"method": "lanczos"}, files={"scale": ("s.png", png(noisy()), "image/png")})
    assert r.status_code == 400 and r.json()["field"] == "scale"


def test_a_segment_job_shows_the_overlay(client):
    arr = np.zeros((48, 64, 3), np.uint8)
    arr[:, 32:] = (230, 40, 30)
    r = submit(client, {"task": "segment", "method": "kmeans", "params": '{"clusters": 2}'}, image=png(arr))
    assert r.status_code == 202, r.text
    view = wait(client, r.json()["id"])
    assert view["state"] == "done", view
    assert view["result"]["regions"] == 2
    got = np.asarray(Image.open(io.BytesIO(client.get(f"/api/jobs/{r.json()['id']}/result").content)))
    assert got.shape == arr.shape and (got == (255, 26, 26)).all(-1)[:, 31:33].any()  # the boundary, drawn in red
