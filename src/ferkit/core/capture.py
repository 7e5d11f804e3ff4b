"""Live frame sources over OpenCV's ``cv2.VideoCapture`` (cameras and stream URLs), with the same
interface as :class:`~ferkit.core.video_file.VideoReader`, and :func:`open_frame_source`, which
opens whichever a user's source string names: a video file, a device number or a URL."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.options import check_float, check_int
from ferkit.core.stderr import run_capturing_stderr
from ferkit.core.video_file import VideoFrame, VideoInfo, VideoReader

log = logging.getLogger(__name__)

#: seconds OpenCV may take to open a stream URL, and to wait for one frame of it
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0
#: the frame rate assumed when a device or stream reports none
DEFAULT_FPS = 30.0

_now = time.monotonic  # the clock of live timestamps (tests replace it)


def _device_index(spec) -> int | None:
    if isinstance(spec, bool):
        return None
    if isinstance(spec, int):
        return spec
    if isinstance(spec, str) and spec.strip().isdigit():
        return int(spec.strip())
    return None


class CaptureSource:
    """Frames from a camera (``"0"``, ``"1"``... or an int: the device index), a stream URL
    (``"rtsp://..."``, ``"http://..."``) or anything else ``cv2.VideoCapture`` opens (a file path).

    Like :class:`~ferkit.core.video_file.VideoReader`: ``info`` (a VideoInfo: the source's size, its
    fps or 30, ``frames`` None), iteration yields ``VideoFrame(index, time_s, image)`` — ``index``
    counts the frames read from the source, ``time_s`` is the time since the first frame on a
    monotonic clock (nudged by a microsecond when two frames come within one, so it always
    increases) — sampled by ``every`` (index a multiple of N) or ``fps`` (the first frame of each
    1/fps-long slot since the first frame). Iteration ends when the source has no more frames.
    ``frames_read``, ``skipped`` (frames read empty), ``status()``, ``close()``, context manager.
    A live source declares no frame count: ``complete`` is True once the source ended by itself."""

    def __init__(self, spec: str | int | Path, every: int = 1, fps: float | None = None):
        import cv2

        self.every = check_int("CaptureSource", "every", every, lo=1)
        self.target_fps = check_float("CaptureSource", "fps", fps, lo=0, lo_open=True, optional=True)
        self.spec = str(spec)
        self.device = _device_index(spec)
        self.frames_declared = None
        self.frames_read = 0
        self.skipped = 0
        self.truncated = False
        self._ended = False
        self._cap = None
        if self.device is not None:
            if sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{self.device}"):
                raise InputError(f"camera {self.device}: no such device (/dev/video{self.device} does not exist)")
            cap, said = cv2.VideoCapture(self.device), ""
            what = f"camera {self.device}"
        else:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(OPEN_TIMEOUT_S * 1000),
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(READ_TIMEOUT_S * 1000)]
            try:  # FFmpeg's own lines (connection refused...) are caught and reported with the source
                cap, said = run_capturing_stderr(cv2.VideoCapture, self.spec, cv2.CAP_ANY, params)
            except cv2.error:
                cap, said = run_capturing_stderr(cv2.VideoCapture, self.spec)
            what = self.spec
        if not cap.isOpened():
            cap.release()
            why = " ".join(said.split())[:300]
            raise InputError(f"{what}: cannot open this video source (no such device, an unreachable URL, "
                             "or a format OpenCV cannot read)" + (f": {why}" if why else ""))
        self._cap = cap
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        self._held: np.ndarray | None = None
        if width <= 0 or height <= 0:  # some backends know the size only after a frame
            ok, image = cap.read()
            if not ok or image is None:
                self.close()
                raise InputError(f"{what}: opened, but it gives no frames")
            self._held = image
            height, width = image.shape[:2]
        rate = cap.get(cv2.CAP_PROP_FPS)
        rate = float(rate) if rate and math.isfinite(rate) and 0 < rate < 1000 else DEFAULT_FPS
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
        codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ") if fourcc > 0 else ""
        self.info = VideoInfo(self.spec, width, height, rate, None, None, codec)

    @property
    def complete(self) -> bool:
        """True once the source ended by itself (a live source declares no frame count)."""
        return self._ended

    def status(self) -> dict:
        """``frames_declared`` (None), ``frames_read``, ``skipped``, ``truncated`` (False), ``complete``."""
        return {"frames_declared": None, "frames_read": self.frames_read, "skipped": self.skipped,
                "truncated": False, "complete": self.complete}

    def expected_samples(self) -> None:
        """Unknown for a live source."""
        return None

    def _read(self) -> Iterator[np.ndarray]:
        if self._held is not None:
            image, self._held = self._held, None
            yield image
        while self._cap is not None:
            ok, image = self._cap.read()
            if not ok:
                self._ended = True
                return
            if image is None or image.size == 0:
                self.skipped += 1
                continue
            yield image

    def __iter__(self) -> Iterator[VideoFrame]:
        start = last_t = None
        last_slot = -1
        index = -1
        for image in self._read():
            now = _now()
            start = now if start is None else start
            t = round(now - start, 6)
            if last_t is not None and t <= last_t:
                t = round(last_t + 1e-6, 6)
            last_t = t
            index += 1
            self.frames_read += 1
            if self.target_fps:
                slot = math.floor(t * self.target_fps + 1e-6)
                if slot <= last_slot:
                    continue
                last_slot = slot
            elif index % self.every:
                continue
            yield VideoFrame(index, t, image)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> CaptureSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_frame_source(spec: str | int | Path, every: int = 1, fps: float | None = None,
                      start_frame: int = 0) -> VideoReader | CaptureSource:
    """A frame source for what a user names: an existing file -> :class:`VideoReader`; a device
    number (an int or a digit string such as "0") or a URL (a string with "://") ->
    :class:`CaptureSource`; anything else -> MissingInputError. ``start_frame`` (resuming) applies
    to video files only; an OptionError for a live source."""
    check_int("open_frame_source", "start_frame", start_frame, lo=0)
    if isinstance(spec, bool) or not isinstance(spec, (str, int, Path)):
        raise OptionError(f"a video source must be a file path, a device number or a URL; got {spec!r}")
    if isinstance(spec, Path) or (isinstance(spec, str) and spec and Path(spec).exists()):
        return VideoReader(spec, every, fps, start_frame)
    live = _device_index(spec) is not None or "://" in str(spec)
    if not live:
        raise MissingInputError(f"{spec}: no such file (nor a device number such as 0, nor a URL with ://)")
    if start_frame:
        raise OptionError(f"start_frame (resuming) applies to video files only; {spec} is a live source")
    return CaptureSource(spec, every, fps)
