"""The web app: ``create_app(ServeOptions)`` -> a FastAPI application (``ferkit serve`` runs it with uvicorn).

One Recognizer per server process, the same pipeline and results schema as the CLI. Routes: the page (``/``),
``POST /api/analyze`` (a photo), ``WS /api/stream`` (the live camera, :mod:`ferkit.serve.stream`),
``POST /api/videos`` and ``/api/jobs/...`` (background video jobs, :mod:`ferkit.serve.jobs`),
``GET /api/health``, ``GET /api/model``, and the OpenAPI docs at ``/docs``. Every error is JSON with a message
a person understands; no input takes the server down."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import io
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import cv2
from anyio import to_thread
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import ferkit
from ferkit.core.errors import FerkitError
from ferkit.core.images import decode_image
from ferkit.core.inputs import array_to_bgr
from ferkit.core.video_file import VideoReader, is_still_image
from ferkit.infer.annotate import draw_faces
from ferkit.infer.classifier import WEIGHTS_DIR
from ferkit.infer.options import RecognizerOptions
from ferkit.infer.recognizer import Recognizer
from ferkit.serve.jobs import DOWNLOADS, QueueFull, VideoJobs
from ferkit.serve.options import ServeOptions
from ferkit.serve.stream import serve_live

log = logging.getLogger("ferkit.serve")
STATIC = Path(__file__).resolve().parent / "static"
CHUNK = 1 << 20


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def read_limited(upload: UploadFile, limit: int, what: str) -> bytes:
    """The upload's bytes, or 413 as soon as it passes ``limit``."""
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"{what} is larger than the {limit // (1 << 20)} MB this server takes")
    return bytes(data)


def image_size_of(data: bytes) -> tuple[int, int] | None:
    """Width and height from the file's header (PIL reads it without decoding the pixels)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # not something PIL knows: the decoder decides below
        return None


def model_card(recognizer: Recognizer) -> dict[str, Any]:
    """The bundled model's card, or what a model file says of itself."""
    path = Path(recognizer.options.model_path)
    card = WEIGHTS_DIR / f"{path.stem}.json"
    if path.parent == WEIGHTS_DIR and card.exists():
        return json.loads(card.read_text())
    clf = recognizer.pipeline.classifier
    return {"name": path.stem, "file": path.name, "classes": list(clf.classes), "preprocess": clf.preprocess,
            "info": json.loads(json.dumps(clf.info, default=str))}


def create_app(options: ServeOptions | None = None) -> FastAPI:
    options = options or ServeOptions()
    recognizer = Recognizer(RecognizerOptions(model=options.model, detector=options.detector))
    work_dir = Path(options.work_dir) if options.work_dir else Path(tempfile.mkdtemp(prefix="ferkit-serve-"))
    jobs = VideoJobs(recognizer, work_dir, options.max_jobs, options.max_queued, options.job_ttl_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        async def sweep():
            while True:
                await asyncio.sleep(min(60.0, options.job_ttl_s))
                jobs.cleanup()

        task = asyncio.create_task(sweep())
        yield
        task.cancel()
        await to_thread.run_sync(jobs.shutdown)

    app = FastAPI(title="ferkit", version=ferkit.__version__, lifespan=lifespan,
                  description="Facial expression recognition: photos, a live camera and videos.")
    app.state.options, app.state.recognizer, app.state.jobs = options, recognizer, jobs

    # ----------------------------------------------------------------- errors as JSON
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        parts = [f"{'.'.join(str(x) for x in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()]
        return error(422, "bad request: " + "; ".join(parts))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error(500, f"the server could not handle this request ({type(exc).__name__}); it keeps running")

    # ----------------------------------------------------------------- token
    def token_ok(headers, query) -> bool:
        if not options.token:
            return True
        given = query.get("token") or ""
        auth = headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), options.token.encode())

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        public = request.url.path in ("/", "/favicon.ico") or request.url.path.startswith("/static/")
        if not public and not token_ok(request.headers, request.query_params):
            return error(401, "a bearer token is required: send Authorization: Bearer TOKEN")
        return await call_next(request)

    # ----------------------------------------------------------------- routes
    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/health", summary="Is the server up, and with which model")
    async def health():
        return {"status": "ok", "version": ferkit.__version__, "model": Path(recognizer.options.model_path).name,
                "classes": list(recognizer.classes), "jobs_active": jobs.active(), "token_required": bool(options.token)}

    @app.get("/api/model", summary="The model card")
    async def model():
        return model_card(recognizer)

    @app.post("/api/analyze", summary="Faces and emotions in a photo")
    async def analyze(file: UploadFile = File(..., description="an image file"),
                      annotate: bool = Query(False, description="also return the annotated image (JPEG, base64)")):
        data = await read_limited(file, int(options.max_image_mb * (1 << 20)), "the image")
        name = Path(file.filename or "image").name
        size = image_size_of(data)
        if size and size[0] * size[1] > options.max_pixels:
            raise HTTPException(413, f"{name} is {size[0]}x{size[1]} pixels, over the {options.max_pixels:,} pixels "
                                     "this server takes")
        try:
            array, notes = decode_image(data, name)
        except FerkitError as exc:
            raise HTTPException(415, f"{exc} (send a JPEG, PNG, WebP, BMP, TIFF or GIF photo)") from None
        if array.shape[0] * array.shape[1] > options.max_pixels:
            raise HTTPException(413, f"{name} is over the {options.max_pixels:,} pixels this server takes")

        def work():
            bgr = array_to_bgr(array, "bgr")
            result = recognizer.analyze_image(bgr)
            out = result.to_dict()
            out.update(path=name, notes=notes + out["notes"])
            if annotate:
                ok, jpeg = cv2.imencode(".jpg", draw_faces(bgr, result.faces), [cv2.IMWRITE_JPEG_QUALITY, 90])
                out["annotated_jpeg"] = base64.b64encode(jpeg.tobytes()).decode() if ok else None
            return out

        try:
            return await asyncio.wait_for(to_thread.run_sync(work), options.request_timeout_s)
        except TimeoutError:
            raise HTTPException(504, f"analysing {name} took longer than {options.request_timeout_s:g} s") from None

    @app.websocket("/api/stream")
    async def stream(ws: WebSocket):
        if not token_ok(ws.headers, ws.query_params):
            await ws.close(code=4401, reason="a token is required (?token=TOKEN)")
            return
        await serve_live(ws, recognizer, options.max_frame_kb * 1024, options.max_pixels, options.max_stream_fps)

    @app.post("/api/videos", status_code=202, summary="Start analysing a video (a background job)")
    async def videos(file: UploadFile = File(..., description="a video file")):
        name = Path(file.filename or "video").name
        limit = int(options.max_video_mb * (1 << 20))
        if jobs.active() >= options.max_jobs + options.max_queued:
            raise HTTPException(429, f"{jobs.active()} videos are being analysed or waiting; try again later")
        job_id, folder = jobs.new_folder()
        video = folder / "upload" / safe_name(name)  # the page and the timeline show the user's file name
        video.parent.mkdir()
        size = 0
        with video.open("wb") as fh:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    fh.close()
                    await to_thread.run_sync(_remove, folder)
                    raise HTTPException(413, f"the video is larger than the {options.max_video_mb:g} MB this server "
                                             "takes")
                fh.write(chunk)
        try:
            await to_thread.run_sync(_probe_video, video, name)
        except FerkitError as exc:
            await to_thread.run_sync(_remove, folder)
            raise HTTPException(415, str(exc)) from None
        try:
            job = jobs.submit(job_id, folder, video, name)
        except QueueFull as exc:
            await to_thread.run_sync(_remove, folder)
            raise HTTPException(429, str(exc)) from None
        return job.to_dict()

    def get_job(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job (finished jobs are deleted after a while)")
        return job

    @app.get("/api/jobs/{job_id}", summary="A video job's state and progress")
    async def job_state(job_id: str):
        return get_job(job_id).to_dict()

    @app.get("/api/jobs/{job_id}/events", summary="A video job's progress as server-sent events")
    async def job_events(job_id: str):
        job = get_job(job_id)

        async def events():
            last = None
            while True:
                state = job.to_dict()
                text = json.dumps(state)
                if text != last:
                    yield f"data: {text}\n\n"
                    last = text
                if state["state"] in ("done", "failed", "cancelled"):
                    return
                await asyncio.sleep(0.25)

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/api/jobs/{job_id}/files/{name}", summary="A finished job's file")
    async def job_file(job_id: str, name: str):
        job = get_job(job_id)
        if name not in DOWNLOADS:
            raise HTTPException(404, f"no file {name!r}; a job offers {', '.join(DOWNLOADS)}")
        file, media = DOWNLOADS[name]
        path = job.folder / file
        if job.state != "done" or not path.exists():
            raise HTTPException(404, f"{name} is not ready (the job is {job.state})")
        stem = Path(job.name).stem
        return FileResponse(path, media_type=media, filename=f"{stem}.{name}")

    @app.delete("/api/jobs/{job_id}", summary="Cancel a job and delete its files")
    async def job_delete(job_id: str):
        job = get_job(job_id)
        job.cancel.set()
        if job.state not in ("queued", "running"):
            jobs.jobs.pop(job_id, None)
            await to_thread.run_sync(_remove, job.folder)
        return {"id": job_id, "state": "cancelled" if job.state in ("queued", "running") else "deleted"}

    return app


def safe_name(name: str) -> str:
    """A file name made only of harmless characters (never a path) from what a client called its file."""
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(name).name).strip(" .")[:100]
    return cleaned or "video"


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _probe_video(path: Path, name: str) -> None:
    """A clear error unless the file holds a video stream with a first frame (checked by decoding)."""
    if is_still_image(path):
        raise FerkitError(f"{name}: a photo, not a video; analyse photos in the Photo tab (POST /api/analyze)")
    try:
        reader = VideoReader(path)
    except FerkitError as exc:
        raise type(exc)(str(exc).replace(str(path), name)) from None
    try:
        first = next(iter(reader), None)
    finally:
        reader.close()
    if first is None:
        raise FerkitError(f"{name}: no frame could be decoded: not a video, or an empty or damaged one")
