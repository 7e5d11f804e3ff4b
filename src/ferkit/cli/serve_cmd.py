"""ferkit serve: the web app (photos, the live camera, videos)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="the web app: photos, the live webcam and videos in a browser",
        description="Serve ferkit's web page and API (FastAPI with uvicorn; pip install ferkit[serve]): drop a photo, "
        "turn on the webcam, or upload a video. Listens on 127.0.0.1 unless --host says otherwise; beyond this "
        "machine a token is required (--token or FERKIT_TOKEN). API docs at /docs.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", help="require Authorization: Bearer TOKEN on every request (or set FERKIT_TOKEN)")
    p.add_argument("--model", help="a bundled model name, an ONNX model or ensemble, or a checkpoint")
    p.add_argument("--detector", default="blazeface", help="face detector (see ferkit models)")
    p.add_argument("--max-image-mb", type=float, default=15.0, help="largest photo upload (default 15)")
    p.add_argument("--max-video-mb", type=float, default=200.0, help="largest video upload (default 200)")
    p.add_argument("--max-jobs", type=int, default=1, help="videos analysed at once (default 1)")
    p.add_argument("--max-queued", type=int, default=4, help="videos waiting at most (default 4)")
    p.add_argument("--job-ttl", type=float, default=3600.0, help="seconds a finished video job is kept (default 3600)")
    p.add_argument("--max-stream-fps", type=float, default=30.0, help="frames per second a live camera may send")
    p.add_argument("--work-dir", help="where uploads and job outputs go (default: a new temporary folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.core.errors import OptionError
    from ferkit.serve.options import ServeOptions

    options = ServeOptions.from_env(
        host=args.host, port=args.port, token=args.token, model=args.model, detector=args.detector,
        max_image_mb=args.max_image_mb, max_video_mb=args.max_video_mb, max_jobs=args.max_jobs,
        max_queued=args.max_queued, job_ttl_s=args.job_ttl, max_stream_fps=args.max_stream_fps,
        work_dir=args.work_dir)
    try:
        import uvicorn

        from ferkit.serve.app import create_app
    except ImportError as exc:
        raise OptionError(f"ferkit serve needs FastAPI and uvicorn: pip install ferkit[serve] ({exc})") from None
    app = create_app(options)
    print(f"ferkit serve: http://{options.host}:{options.port}/  (API docs: /docs; Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0
