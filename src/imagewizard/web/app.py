"""The FastAPI application of ``imagewizard serve``: the page and the REST API.

Every task, method and parameter comes from the declarations (``GET /api/tasks``,
``GET /api/methods``); the page builds its menus and forms from them. Work runs in worker
processes (:mod:`imagewizard.web.pool`); a handler only saves uploads, checks them and queues.

Errors are JSON ``{"error": "...", "field": "..."}`` with a 4xx status; a 5xx is a bug.

Examples
--------
>>> from fastapi.testclient import TestClient                     # doctest: +SKIP
>>> from imagewizard.web.app import create_app                    # doctest: +SKIP
>>> with TestClient(create_app()) as client:                      # doctest: +SKIP
...     client.get("/api/health").json()["status"]
'ok'
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import tempfile
import threading
import time
import zipfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from imagewizard import __version__
from imagewizard.core.errors import ImageWizardError, plain_reason
from imagewizard.web.forms import (
    RequestProblem,
    build_pipeline,
    check_header,
    display_name,
    parse_json_field,
    parse_pipeline_text,
    single_step,
    sniff,
    stored_suffix,
)
from imagewizard.web.pool import FINAL, DaskPool, Job, JobTable, ProcessPool
from imagewizard.web.settings import Settings

STATIC = Path(__file__).with_name("static")
#: Seconds a client is asked to wait (Retry-After) when the queue is full, per job ahead per worker.
RETRY_PER_JOB_S = 5
_CHUNK = 1 << 20


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for a request body over the limit, by its Content-Length or as it streams."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _too_large(send, self.limit)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, self.limit)


async def _too_large(send, limit: int) -> None:
    body = json.dumps(
        {"error": f"upload too large: this server takes at most {limit / 2**20:g} MiB per request"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error(status: int, message: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


class Problem(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


class Server:
    """The app's state: settings, the job table, the workers, the temporary folder."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = Path(tempfile.mkdtemp(prefix="imagewizard-web-"))
        self.table = JobTable(self.root, settings.result_lifetime_s, settings.max_queued)
        self.pool: Any = None
        self._cluster = None
        self._stop = threading.Event()

    def start(self) -> None:
        from imagewizard.core import registry

        registry.load_builtins()  # the method table once, before the first request
        s = self.settings
        if s.cluster:
            from imagewizard.run.cluster import connect

            self._cluster = connect(s.cluster)
            client = self._cluster.__enter__()
            self.pool = DaskPool(client, max_run_s=s.max_run_s)
        else:
            from imagewizard.io.metadata import MAX_PIXELS_ENV

            self.pool = ProcessPool(s.workers, max_run_s=s.max_run_s, env={MAX_PIXELS_ENV: str(s.max_pixels)})
        threading.Thread(target=self._janitor, name="imagewizard-janitor", daemon=True).start()

    def _janitor(self) -> None:
        while not self._stop.wait(min(10.0, max(0.2, self.settings.result_lifetime_s / 4))):
            self.table.expire()

    def stop(self) -> None:
        self._stop.set()
        if self.pool is not None:
            self.pool.close()
        if self._cluster is not None:
            self._cluster.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    def queue(self, job: Job) -> None:
        self.pool.submit(job)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; its workers start with it (``with TestClient(app)`` or uvicorn) and stop with it."""
    settings = settings or Settings()
    server = Server(settings)

    @asynccontextmanager
    async def lifespan(app):
        server.start()
        try:
            yield
        finally:
            server.stop()

    app = FastAPI(
        title="ImageWizard",
        version=__version__,
        summary="Repair, enhance and measure images: the wizard and every method, over HTTP.",
        lifespan=lifespan,
    )
    app.state.server = server
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)

    @app.exception_handler(Problem)
    async def _problem(request, exc: Problem):
        return _error(exc.status, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestProblem)
    async def _request_problem(request, exc: RequestProblem):
        return _error(exc.status, str(exc), exc.field)

    @app.exception_handler(ImageWizardError)
    async def _iw_error(request, exc: ImageWizardError):
        return _error(400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):
        text = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and text == "Not Found":
            text = f"no such address: {request.url.path}"
        if exc.status_code == 405:
            text = f"{request.method} is not allowed on {request.url.path}"
        return _error(exc.status_code, text, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ())[1:]) or "request"
        msg = first.get("msg", "invalid request")
        return _error(422, f"{where}: {msg}", field=where)

    @app.exception_handler(Exception)
    async def _bug(request, exc: Exception):  # a 5xx is a bug: one line, no traceback, no path
        return _error(500, f"internal error ({type(exc).__name__}); please report it")

    def owner(request: Request) -> str:
        token = request.headers.get("x-imagewizard-token") or request.query_params.get("token")
        auth = request.headers.get("authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        who = settings.owner(token)
        if who is None:
            raise Problem(
                401,
                "a valid token is needed (ask whoever runs this server)"
                if token is None or not token
                else "this token is not accepted",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return who

    # --- the page ---------------------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return Response(status_code=204)

    # --- declarations -------------------------------------------------------------------------
    @app.get("/api/health")
    async def health(who: str = Depends(owner)):
        """Is the server up, how busy is it, and what are its limits."""
        return {
            "status": "ok",
            "version": __version__,
            "workers": server.pool.size if server.pool else 0,
            "backend": "dask" if settings.cluster else "processes",
            "jobs_active": server.table.active(),
            "limits": {
                "max_upload_mb": settings.max_upload_mb,
                "max_pixels": settings.max_pixels,
                "max_queued": settings.max_queued,
                "max_run_s": settings.max_run_s,
                "result_lifetime_s": settings.result_lifetime_s,
            },
            "token_required": bool(settings.tokens),
        }

    @app.get("/api/tasks")
    async def tasks(who: str = Depends(owner)):
        """Every task as declared: inputs, output kind, metrics, default method."""
        from imagewizard.core.task import all_tasks

        return [t.as_dict() for t in all_tasks()]

    @app.get("/api/methods")
    async def methods(task: str | None = None, who: str = Depends(owner)):
        """Every method (of one task with ?task=) with its typed parameters, defaults and ranges."""
        from imagewizard.core import registry
        from imagewizard.core.task import task_names

        if task is not None and task not in task_names():
            raise Problem(404, f"unknown task '{task}' (known: {', '.join(task_names())})", "task")
        return await asyncio.to_thread(lambda: [m.describe() for m in registry.methods(task)])

    # --- uploads ------------------------------------------------------------------------------
    async def save_upload(up: Any, job: Job, stored: str, field: str) -> tuple[Path, str]:
        if not isinstance(up, UploadFile):
            raise RequestProblem(f"{field}: expected a file upload", field=field)
        name = display_name(up.filename, field)
        head = await up.read(32)
        fmt = sniff(head, name, field)
        dest = job.folder / f"{stored}{stored_suffix(fmt, name)}"
        with open(dest, "wb") as fh:
            fh.write(head)
            while chunk := await up.read(_CHUNK):
                fh.write(chunk)
        await asyncio.to_thread(check_header, dest, name, fmt, settings.max_pixels, field)
        return dest, name

    def admit(who: str) -> None:
        active = server.table.active()
        if active >= settings.max_queued:
            wait_s = max(1, RETRY_PER_JOB_S * (active - settings.max_queued + 1) // max(1, server.pool.size))
            raise Problem(
                429, f"the queue is full ({active} jobs); try again in {wait_s} s", headers={"Retry-After": str(wait_s)}
            )

    async def form_of(request: Request):
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise RequestProblem("send the image as multipart/form-data (field 'image')", status=415, field="image")
        try:
            return await request.form(max_files=16, max_fields=64)
        except BodyTooLarge:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed body is the client's fault
            raise RequestProblem(f"malformed form data ({plain_reason(exc)})") from None

    # --- analyse --------------------------------------------------------------------------------
    @app.post("/api/analyze")
    async def analyze(request: Request, who: str = Depends(owner)):
        """The wizard's measurements (noise level and type, blur, JPEG blocking, exposure, contrast)
        and its plan with a reason per step, for the uploaded ``image``. Nothing is changed."""
        admit(who)
        form = await form_of(request)
        if "image" not in form:
            raise RequestProblem("image: no image uploaded (form field 'image')", field="image")
        job = server.table.new(who, "analyze", "", listed=False)
        try:
            path, name = await save_upload(form["image"], job, "input", "image")
            job.name = name
            job.spec = {"dir": str(job.folder), "input": str(path), "name": name}
            server.queue(job)
            finished = await asyncio.to_thread(job.event.wait, settings.max_run_s + 5)
            if not finished:
                server.pool.cancel(job)
                raise Problem(503, "the analysis took too long; try a smaller image")
            if job.state != "done":
                raise RequestProblem(job.error or "the analysis failed", status=422, field="image")
            return job.record
        finally:
            server.table.remove(job)

    # --- jobs -------------------------------------------------------------------------------------
    @app.post("/api/jobs", status_code=202)
    async def create_job(request: Request, who: str = Depends(owner)):
        """Queue a job; returns its id at once. Form fields: ``image`` (file), then either nothing
        (the wizard), ``method`` [+ ``task``, ``params`` (JSON), ``sigma``, ``strength``, the task's
        inputs: ``kernel`` (spec or file), ``mask``, ``reference`` (files)], or ``pipeline`` (a
        YAML/JSON file or text). ``truth``: a clean reference to score PSNR/SSIM/MSE against."""
        from imagewizard.run.pipeline import _fields, _input

        admit(who)
        form = await form_of(request)
        if "image" not in form:
            raise RequestProblem("image: no image uploaded (form field 'image')", field="image")
        job = server.table.new(who, "run", "")
        try:
            src, name = await save_upload(form["image"], job, "input", "image")
            job.name = name
            names: dict[str, str] = {}
            uploads: dict[str, Path] = {}
            texts: dict[str, str] = {}
            for key in _fields()[5:]:
                value = form.get(key)
                if isinstance(value, UploadFile):
                    spec = _input(key)
                    if not (spec.files or spec.upload):
                        raise RequestProblem(f"{key}: a value such as {spec.example or '...'}, not a file", field=key)
                    if key == "kernel" and display_name(value.filename).lower().endswith(".npy"):
                        raise RequestProblem(
                            "kernel: give a kernel image (PNG/TIFF) or a spec such as gaussian:2", status=415, field=key
                        )
                    p, shown = await save_upload(value, job, key, key)
                    uploads[key], names[p.name] = p, shown
                elif isinstance(value, str) and value.strip():
                    texts[key] = value
            truth = None
            if isinstance(form.get("truth"), UploadFile):
                truth, shown = await save_upload(form["truth"], job, "truth", "truth")
                names[truth.name] = shown
            pipeline_field = form.get("pipeline")
            method = (form.get("method") or "").strip() if isinstance(form.get("method"), str) else ""
            if pipeline_field is not None and method:
                raise RequestProblem("give either a pipeline or a method, not both", field="pipeline")
            if pipeline_field is not None:
                if isinstance(pipeline_field, UploadFile):
                    raw = await pipeline_field.read()
                    pname = display_name(pipeline_field.filename, "pipeline")
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        raise RequestProblem(f"{pname}: not a text file", status=415, field="pipeline") from None
                else:
                    text, pname = pipeline_field, "pipeline"
                doc = parse_pipeline_text(text, pname)
                if texts:
                    raise RequestProblem(
                        f"{', '.join(texts)}: belongs in the pipeline's steps", field=next(iter(texts))
                    )
                pipeline = build_pipeline(doc, uploads)
            elif method:
                task = form.get("task") if isinstance(form.get("task"), str) else None
                params = parse_json_field(form.get("params") if isinstance(form.get("params"), str) else None, "params")
                step = single_step(task, method, params, _text(form, "sigma"), _text(form, "strength"), texts)
                try:
                    pipeline = build_pipeline({"steps": [step]}, uploads)
                except RequestProblem as exc:
                    exc.field = _field_of(str(exc), exc.field)
                    raise
            else:
                if uploads or texts:
                    extra = ", ".join([*uploads, *texts])
                    raise RequestProblem(
                        f"{extra}: needs a method (the wizard plans without one)", field=next(iter([*uploads, *texts]))
                    )
                pipeline = {"wizard": True}
            dest = job.folder / f"result{src.suffix}"
            stem = Path(name).stem or "image"
            job.spec = {
                "dir": str(job.folder),
                "input": str(src),
                "output": str(dest),
                "name": name,
                "result_name": f"{stem}-imagewizard{src.suffix}",
                "names": names,
                "pipeline": pipeline,
                "truth": str(truth) if truth else None,
            }
        except BaseException:
            server.table.remove(job)
            raise
        server.queue(job)
        return JSONResponse(job.view(), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})

    def find(job_id: str, who: str) -> Job:
        job = server.table.get(job_id, who)
        if job is None:
            raise Problem(
                404, f"no job {job_id[:40]} (finished jobs are deleted after {settings.result_lifetime_s:g} s)"
            )
        return job

    @app.get("/api/jobs")
    async def list_jobs(who: str = Depends(owner)):
        """This token's jobs, newest first."""
        return [j.view() for j in sorted(server.table.owned(who), key=lambda j: -j.created)]

    @app.get("/api/jobs/{job_id}")
    async def get_job(job_id: str, who: str = Depends(owner)):
        """State, progress with ETA, timings, the plan and its reasons, the scores."""
        return find(job_id, who).view()

    @app.get("/api/jobs/{job_id}/events")
    async def job_events(job_id: str, request: Request, who: str = Depends(owner)):
        """The job's state as server-sent events, one each time it changes, until it ends."""
        job = find(job_id, who)

        async def stream():
            seen = -1
            last_beat = time.monotonic()
            while True:
                if await request.is_disconnected():
                    return
                if job.version != seen:
                    seen = job.version
                    yield f"event: state\ndata: {json.dumps(job.view())}\n\n"
                    if job.state in FINAL:
                        return
                elif time.monotonic() - last_beat > 15:
                    last_beat = time.monotonic()
                    yield ": still running\n\n"
                await asyncio.sleep(0.2)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    def done_job(job_id: str, who: str) -> Job:
        job = find(job_id, who)
        if job.state != "done":
            why = f": {job.error}" if job.error else ""
            raise Problem(409, f"job {job.id} is {job.state}{why}; its result is not available")
        return job

    @app.get("/api/jobs/{job_id}/result")
    async def job_result(job_id: str, who: str = Depends(owner)):
        """The result in the input's format, with its bit depth and metadata."""
        job = done_job(job_id, who)
        path = Path(job.spec["output"])
        if not path.is_file():
            raise Problem(410, f"job {job.id}: its result was deleted")
        return FileResponse(path, filename=job.spec["result_name"], media_type=_media(path))

    @app.get("/api/jobs/{job_id}/preview/{which}")
    async def job_preview(job_id: str, which: str, who: str = Depends(owner)):
        """An 8-bit PNG of the input (``before``) or the result (``after``) for the page."""
        if which not in ("before", "after"):
            raise Problem(404, "preview is 'before' or 'after'")
        job = done_job(job_id, who)
        path = job.folder / f"{which}.png"
        if not path.is_file():
            raise Problem(410, f"job {job.id}: its preview was deleted")
        return FileResponse(path, media_type="image/png")

    @app.get("/api/jobs/{job_id}/histograms")
    async def job_histograms(job_id: str, who: str = Depends(owner)):
        """256-bin histograms per channel of the input and of the result."""
        return done_job(job_id, who).record.get("histograms", {})

    @app.get("/api/jobs/{job_id}/pipeline")
    async def job_pipeline(job_id: str, format: str = "yaml", who: str = Depends(owner)):
        """What the job ran, as a pipeline file to replay (``imagewizard run plan.yaml``, or upload it)."""
        job = done_job(job_id, who)
        doc = _pipeline_doc(job)
        if format not in ("yaml", "json"):
            raise Problem(422, "format is 'yaml' or 'json'", "format")
        stem = Path(job.name).stem or "plan"
        if format == "json":
            text, media = json.dumps(doc, indent=2) + "\n", "application/json"
        else:
            import yaml

            text, media = yaml.safe_dump(doc, sort_keys=False), "application/yaml"
        return Response(text, media_type=media, headers={"Content-Disposition": _attachment(f"{stem}-plan.{format}")})

    @app.delete("/api/jobs/{job_id}")
    async def delete_job(job_id: str, who: str = Depends(owner)):
        """Cancel a queued or running job (its worker is stopped), or delete a finished one and its files."""
        job = find(job_id, who)
        if job.state in FINAL:
            server.table.remove(job)
            return {"id": job.id, "state": "deleted"}
        await asyncio.to_thread(server.pool.cancel, job)
        await asyncio.to_thread(job.event.wait, 10)
        return job.view()

    @app.get("/api/results.zip")
    async def results_zip(ids: str, who: str = Depends(owner)):
        """The results of several finished jobs (``?ids=a,b,c``) in one zip."""
        wanted = [i for i in ids.split(",") if i][:500]
        if not wanted:
            raise Problem(422, "ids: give the job ids, comma-separated", "ids")
        jobs = [done_job(i, who) for i in wanted]

        def build() -> bytes:
            buf = io.BytesIO()
            used: set[str] = set()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
                for j in jobs:
                    name, n = j.spec["result_name"], 1
                    while name in used:
                        n += 1
                        name = f"{Path(j.spec['result_name']).stem}-{n}{Path(name).suffix}"
                    used.add(name)
                    zf.write(j.spec["output"], name)
            return buf.getvalue()

        data = await asyncio.to_thread(build)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": _attachment("imagewizard-results.zip")},
        )

    return app


def _field_of(message: str, default: str | None) -> str | None:
    """The form field a pipeline check's message is about (the page shows the error beside it)."""
    import re

    m = re.search(r"field '(\w+)'", message)
    if m and m.group(1) != "params":
        return m.group(1)
    if "parameter '" in message or "field 'params'" in message:
        return "params"
    if "method '" in message or "unknown method" in message:
        return "method"
    return default


def _attachment(filename: str) -> str:
    """A Content-Disposition for any file name (headers are Latin-1: others go as RFC 5987)."""
    from urllib.parse import quote

    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(filename)}"


def _text(form, key: str) -> str | None:
    v = form.get(key)
    return v if isinstance(v, str) else None


def _media(path: Path) -> str:
    return {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".jpe": "image/jpeg",
        ".tif": "image/tiff",
        ".tiff": "image/tiff",
        ".webp": "image/webp",
        ".bmp": "image/bmp",
    }.get(path.suffix.lower(), "application/octet-stream")


def _pipeline_doc(job: Job) -> dict[str, Any]:
    from imagewizard.web.work import scrub

    p = job.spec["pipeline"]
    if p.get("wizard"):
        steps = (job.record or {}).get("plan") or []
        return {"name": f"wizard plan for {job.name}", "steps": steps}
    names = {Path(k).name: v for k, v in job.spec.get("names", {}).items()}
    return scrub(
        {"name": f"imagewizard job for {job.name}", **{k: v for k, v in p.items() if k != "name"}}, job.folder, names
    )
