"""Reading videos frame by frame with PyAV (FFmpeg): exact timestamps from the container, frame
sampling, corrupt frames skipped and counted, and clear errors for files that cannot be read.
Frames are decoded one at a time, so memory stays flat on long videos."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"})


class VideoReadError(ValueError):
    """A video that exists but cannot be read."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: float
    duration_s: float | None
    frames: int | None
    codec: str


@dataclass
class VideoFrame:
    """``index``: position among all decoded frames; ``time_s``: presentation time in seconds;
    ``image``: uint8 BGR."""

    index: int
    time_s: float
    image: np.ndarray


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoReader:
    """Iterate over the sampled frames of a video.

    ``every``: keep every Nth decoded frame; ``fps``: keep frames so that about this many per
    second remain (by timestamp; overrides ``every``); ``start_frame``: skip frames before this
    index (to resume). ``skipped`` counts frames that could not be decoded."""

    def __init__(self, path: str | Path, every: int = 1, fps: float | None = None, start_frame: int = 0):
        import av

        self.path = Path(path)
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        if fps is not None and fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.every, self.target_fps, self.start_frame = every, fps, start_frame
        self.skipped = 0
        #: whether reading stopped early at a damaged part of the container
        self.truncated = False
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise VideoReadError(f"{self.path}: is a directory, not a video")
        if self.path.stat().st_size == 0:
            raise VideoReadError(f"{self.path}: empty file")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise VideoReadError(f"{self.path}: not a readable video ({exc})") from exc
        if not self._container.streams.video:
            self._container.close()
            raise VideoReadError(f"{self.path}: has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        ctx = self._stream.codec_context
        if ctx is None or not ctx.name:
            self._container.close()
            raise VideoReadError(f"{self.path}: unsupported video codec")
        rate = self._stream.average_rate or self._stream.guessed_rate or Fraction(30)
        duration = None
        if self._stream.duration is not None and self._stream.time_base is not None:
            duration = float(self._stream.duration * self._stream.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / 1e6
        frames = self._stream.frames or (int(round(duration * float(rate))) if duration else None)
        start = self._stream.start_time
        self._offset = float(start * self._stream.time_base) if start is not None and self._stream.time_base else 0.0
        self.info = VideoInfo(str(self.path), ctx.width, ctx.height, float(rate), duration, frames or None, ctx.name)

    def expected_samples(self) -> int | None:
        """About how many frames iteration yields (for progress bars)."""
        if not self.info.frames:
            return None
        left = max(0, self.info.frames - self.start_frame)
        if self.target_fps:
            return int(np.ceil(left * min(1.0, self.target_fps / self.info.fps)))
        return int(np.ceil(left / self.every))

    def _decoded(self) -> Iterator[tuple[int, float, object]]:
        import av

        index = 0
        time_base = self._stream.time_base
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:  # the container itself is damaged from here on
                log.warning("%s: stopped reading at frame %d: %s", self.path, index, exc)
                self.truncated = True
                return
            try:
                frames = packet.decode()
            except (av.error.InvalidDataError, av.error.FFmpegError):
                self.skipped += 1
                index += 1
                continue
            for frame in frames:
                if frame.pts is not None and time_base is not None:
                    t = float(frame.pts * time_base)
                else:
                    t = index / self.info.fps
                yield index, t, frame
                index += 1

    def __iter__(self) -> Iterator[VideoFrame]:
        next_time = None
        for index, t, frame in self._decoded():
            t = max(0.0, t - self._offset)
            if index < self.start_frame:
                continue
            if self.target_fps:
                if next_time is None:
                    next_time = t
                if t + 1e-6 < next_time:
                    continue
                next_time += 1.0 / self.target_fps
                while next_time <= t:
                    next_time += 1.0 / self.target_fps
            elif (index - self.start_frame) % self.every:
                continue
            try:
                image = frame.to_ndarray(format="bgr24")
            except Exception:  # noqa: BLE001 - a frame FFmpeg cannot convert is skipped, not fatal
                self.skipped += 1
                continue
            yield VideoFrame(index, round(t, 6), image)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
