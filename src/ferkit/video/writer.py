"""Writing videos with PyAV: H.264 in MP4/MKV/MOV, VP9 in WebM, MJPEG in AVI."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ferkit.core.errors import InputError

CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9",
          ".avi": "mjpeg"}


class VideoWriter:
    """``write(bgr, time_s=None)`` frames of one size; ``close()`` finishes the file. Frames are
    timed by ``time_s`` when given (variable rate), else at ``fps``."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int, codec: str | None = None,
                 crf: int = 23):
        import av

        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if codec is None and suffix not in CODECS:
            raise ValueError(f"{self.path}: video output must end in {', '.join(sorted(CODECS))}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.path), mode="w")
        codec = codec or CODECS[suffix]
        self.rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream(codec, rate=self.rate)
        # yuv420p needs even sizes; odd frames are padded by one pixel
        self.width, self.height = width + width % 2, height + height % 2
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            # no B-frames: with variable frame timing they can make decode times collide
            self.stream.options = {"crf": str(crf), "preset": "veryfast", "bf": "0"}
        self.stream.time_base = Fraction(1, 1000) if codec != "mjpeg" else 1 / self.rate
        self.stream.codec_context.time_base = self.stream.time_base
        self._count = 0
        self._last_pts = -1

    def write(self, bgr: np.ndarray, time_s: float | None = None) -> None:
        import av

        h, w = bgr.shape[:2]
        if (w + w % 2, h + h % 2) != (self.width, self.height):
            raise InputError(f"{self.path}: a frame of {w}x{h} in a video of {self.width}x{self.height} (the source "
                             "changed its size); the annotated video stops here")
        if (w, h) != (self.width, self.height):
            bgr = np.pad(bgr, ((0, self.height - h), (0, self.width - w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        tb = self.stream.time_base
        t = time_s if time_s is not None else self._count / float(self.rate)
        pts = int(round(t / float(tb)))
        frame.pts = max(pts, self._last_pts + 1)
        self._last_pts = frame.pts
        frame.time_base = tb
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self._count += 1

    def close(self) -> None:
        if self.container is None:
            return
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        self.container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
