"""How ``ferkit serve`` runs: one frozen options object, checked when made."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ferkit.core.errors import OptionError
from ferkit.core.options import check_float, check_int, check_str

#: the environment variable a token may come from instead of --token (kept out of shell history)
TOKEN_ENV = "FERKIT_TOKEN"


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeOptions:
    """``host``/``port``: where to listen (127.0.0.1 unless told otherwise). ``token``: when set, every
    request needs ``Authorization: Bearer TOKEN`` (or ``?token=`` for the page's WebSocket and downloads);
    required when ``host`` is not a loopback address. ``model``, ``detector``: as ``ferkit analyze``.
    Limits: ``max_image_mb`` (uploaded photo), ``max_video_mb`` (uploaded video), ``max_pixels`` (decoded
    photo or frame), ``max_frame_kb`` (a live frame), ``max_stream_fps`` (frames per second a live connection
    may send; faster ones are dropped), ``max_jobs`` (video jobs at once; more wait, up to ``max_queued``),
    ``job_ttl_s`` (finished jobs and their files are deleted after this), ``request_timeout_s`` (analysing one
    photo). ``work_dir``: where uploads and job outputs live (default: a new temporary folder)."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    model: str | None = None
    detector: str = "blazeface"
    max_image_mb: float = 15.0
    max_video_mb: float = 200.0
    max_pixels: int = 40_000_000
    max_frame_kb: int = 1024
    max_stream_fps: float = 30.0
    max_jobs: int = 1
    max_queued: int = 4
    job_ttl_s: float = 3600.0
    request_timeout_s: float = 60.0
    work_dir: str | None = None

    def __post_init__(self) -> None:
        o = "serve"
        check_str(o, "host", self.host)
        check_int(o, "port", self.port, lo=0, hi=65535)
        if self.token is not None:
            check_str(o, "token", self.token)
            if len(self.token) < 8:
                raise OptionError(f"{o}.token must be at least 8 characters")
        if not is_loopback(self.host) and not self.token:
            raise OptionError(f"serving on {self.host} (beyond this machine) needs a token: --token TOKEN or "
                              f"{TOKEN_ENV}=TOKEN, and every request then sends Authorization: Bearer TOKEN")
        check_float(o, "max_image_mb", self.max_image_mb, lo=0.0, lo_open=True)
        check_float(o, "max_video_mb", self.max_video_mb, lo=0.0, lo_open=True)
        check_int(o, "max_pixels", self.max_pixels, lo=1)
        check_int(o, "max_frame_kb", self.max_frame_kb, lo=1)
        check_float(o, "max_stream_fps", self.max_stream_fps, lo=0.0, lo_open=True)
        check_int(o, "max_jobs", self.max_jobs, lo=1, hi=64)
        check_int(o, "max_queued", self.max_queued, lo=0, hi=1000)
        check_float(o, "job_ttl_s", self.job_ttl_s, lo=0.0, lo_open=True)
        check_float(o, "request_timeout_s", self.request_timeout_s, lo=0.0, lo_open=True)
        if self.work_dir is not None:
            object.__setattr__(self, "work_dir", str(Path(self.work_dir)))

    @classmethod
    def from_env(cls, **kw: Any) -> ServeOptions:
        """Options with the token taken from the environment when not given."""
        if kw.get("token") is None and os.environ.get(TOKEN_ENV):
            kw["token"] = os.environ[TOKEN_ENV]
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["token"] = "set" if self.token else None
        return d
