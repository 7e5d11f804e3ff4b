"""Reading videos frame by frame with PyAV (FFmpeg): exact timestamps from the container, frame
sampling, display rotation, damaged frames skipped and counted, and clear errors (naming the file)
for files that cannot be read. Frames are decoded one at a time, so memory stays flat on long videos.

Damage. FFmpeg decodes what it can of a damaged file; the reader accounts for the rest:

* a frame that cannot be decoded, that the decoder flags as corrupt, or whose timestamp does not
  come after the previous frame's is skipped and counted in ``skipped``;
* frame positions come from the timestamps: a frame's ``index`` is its place in the video as if
  nothing were lost (a gap in the timestamps after a damaged part counts the frames lost in it), so
  indices and times stay right after the damage. Yielded frames have strictly increasing ``index``
  and ``time_s``;
* timestamps that jump back and keep going from there (a discontinuity, as in joined MPEG-TS files:
  :data:`REBASE_AFTER` frames in a row, each after the one before) are re-based: the frames carry on
  from where the video was, one frame duration later, rather than being dropped;
* when the container cannot be read any further (a demuxer error) reading stops: ``truncated``.

After reading to the end, ``complete`` says whether every frame the container declares was read or
skipped (see :attr:`VideoReader.complete`); ``status()`` gathers the counts for reports."""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ferkit.core.errors import InputError, MissingInputError
from ferkit.core.options import check_float, check_int

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts",
                            ".3gp", ".3g2", ".ogv", ".m2ts", ".mts", ".vob", ".asf", ".f4v", ".mxf"})

#: frames in a row whose timestamps went back (but increase among themselves) before the timeline
#: is re-based on them; fewer than this are skipped as damaged timestamps
REBASE_AFTER = 5
#: damage warnings logged per file; later ones are counted but not logged
MAX_WARNINGS = 20


class VideoReadError(InputError):
    """A video that exists but cannot be read."""


@dataclass(frozen=True)
class VideoInfo:
    """``width``/``height``: the displayed size (after the rotation); ``frames``: the frame count
    the container declares (or its duration x ``fps`` when it has no count; None if unknown);
    ``rotation``: degrees the frames are turned clockwise to be shown as displayed (0, 90, 180, 270)."""

    path: str
    width: int
    height: int
    fps: float
    duration_s: float | None
    frames: int | None
    codec: str
    rotation: int = 0


@dataclass
class VideoFrame:
    """``index``: the frame's position in the video (frames lost to damage still count);
    ``time_s``: presentation time in seconds from the video's start; ``image``: uint8 BGR, as displayed."""

    index: int
    time_s: float
    image: np.ndarray


def is_video(path: str | Path, image_suffixes: frozenset[str] = frozenset()) -> bool:
    """A video by its suffix; a file whose suffix is neither a video's nor in ``image_suffixes``
    (none, or an unusual one) is probed: a media container FFmpeg opens counts as a video (one with
    no video stream is then reported as such by the reader)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return True
    if suffix in image_suffixes or not path.is_file():
        return False
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video or container.streams.audio)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        return False


def is_still_image(path: str | Path) -> bool:
    """Does FFmpeg read the file as a still image (its image demuxers: ``image2``, ``png_pipe``,
    ``jpeg_pipe``...), whatever its name says? Such a file opens as a one-frame "video"."""
    import av

    try:
        with av.open(str(path)) as container:
            name = container.format.name
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        return False
    return name == "image2" or name.endswith("_pipe")


def completeness_margin(declared: int) -> int:
    """How many frames short of the declared count a video may come and still be complete:
    max(2, 1% of the count) — containers' counts and durations are not always exact."""
    return max(2, math.ceil(0.01 * declared))


# --- display rotation -------------------------------------------------------------------------

def _matrix_rotation(m: tuple[int, ...]) -> float | None:
    """FFmpeg's av_display_rotation_get: the counter-clockwise angle of a display matrix."""
    s0, s1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if s0 == 0 or s1 == 0:
        return None
    return -math.degrees(math.atan2(m[1] / s1, m[0] / s0))


def display_transform(matrix: tuple[int, ...] | None = None, rotate_tag: str | None = None) -> tuple[str, ...]:
    """The steps that turn a decoded image into the displayed one, as FFmpeg's command line does
    (its autorotate), from a display matrix (9 int32, FFmpeg's layout) or else an old ``rotate``
    tag (clockwise degrees). Steps: "cw" / "ccw" (turn 90 degrees), "hflip", "vflip", "transpose",
    "antitranspose". Angles other than multiples of 90 give no steps."""
    if matrix is not None:
        angle = _matrix_rotation(matrix)
        if angle is None:
            return ()
        theta = -round(angle)  # clockwise, like FFmpeg's get_rotation()
        theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
        if abs(theta - 90) < 1:
            return ("transpose",) if matrix[3] > 0 else ("cw",)
        if abs(theta - 180) < 1:
            return tuple(step for step, on in (("hflip", matrix[0] < 0), ("vflip", matrix[4] < 0)) if on)
        if abs(theta - 270) < 1:
            return ("antitranspose",) if matrix[3] < 0 else ("ccw",)
        if abs(theta) < 1 or abs(theta - 360) < 1:
            return ("vflip",) if matrix[4] < 0 else ()
        return ()
    if rotate_tag is not None:
        try:
            degrees = round(float(rotate_tag)) % 360
        except ValueError:
            return ()
        return {90: ("cw",), 180: ("hflip", "vflip"), 270: ("ccw",)}.get(degrees, ())
    return ()


def apply_transform(image: np.ndarray, steps: tuple[str, ...]) -> np.ndarray:
    """Apply :func:`display_transform` steps to an (H, W, C) image."""
    if not steps:
        return image
    for step in steps:
        if step == "cw":
            image = np.rot90(image, -1)
        elif step == "ccw":
            image = np.rot90(image, 1)
        elif step == "hflip":
            image = image[:, ::-1]
        elif step == "vflip":
            image = image[::-1]
        elif step == "transpose":
            image = image.transpose(1, 0, 2)
        elif step == "antitranspose":
            image = np.rot90(image, 2).transpose(1, 0, 2)
        else:
            raise ValueError(f"unknown display step {step!r}")
    return np.ascontiguousarray(image)


def transform_rotation(steps: tuple[str, ...]) -> int:
    """The clockwise turn (0, 90, 180, 270) the steps make, flips aside."""
    if steps in (("cw",), ("transpose",)):
        return 90
    if steps in (("ccw",), ("antitranspose",)):
        return 270
    if steps == ("hflip", "vflip"):
        return 180
    return 0


def _frame_display_matrix(frame) -> tuple[int, ...] | None:
    try:
        for side in frame.side_data:
            if getattr(side.type, "name", "") == "DISPLAYMATRIX":
                data = bytes(side)
                if len(data) >= 36:
                    return struct.unpack("=9i", data[:36])
    except Exception:  # noqa: BLE001 - side data we cannot read means no rotation
        return None
    return None


# --- the reader --------------------------------------------------------------------------------

class VideoReader:
    """Iterate over the sampled frames of a video (one pass).

    ``every``: keep frames whose index is a multiple of N; ``fps``: keep about this many frames per
    second, by timestamp (the first frame of each 1/fps-long slot since the video's first frame;
    overrides ``every``); ``start_frame``: do not yield frames before this index (to resume). The
    frames kept are decided exactly as when reading from the first frame, so a resumed run yields
    the same frames as the tail of a full one; all frames before ``start_frame`` are still decoded
    (not converted) for that.

    Counts (see the module's doc): ``frames_declared``, ``frames_read`` (decoded and usable),
    ``skipped`` (could not be decoded, flagged corrupt, or with a bad timestamp), ``truncated``,
    ``complete``; ``status()`` returns them as a dict."""

    def __init__(self, path: str | Path, every: int = 1, fps: float | None = None, start_frame: int = 0):
        import av

        self.path = Path(path)
        self.every = check_int("VideoReader", "every", every, lo=1)
        self.target_fps = check_float("VideoReader", "fps", fps, lo=0, lo_open=True, optional=True)
        self.start_frame = check_int("VideoReader", "start_frame", start_frame, lo=0)
        self.skipped = 0
        self.frames_read = 0
        #: reading stopped before the declared end: the container could not be read further, or the
        #: data ended more than :func:`completeness_margin` frames short of the declared count
        self.truncated = False
        self._demux_failed = False
        self._finished = False
        self._warnings = 0
        self._container = None
        if not self.path.exists():
            raise MissingInputError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise VideoReadError(f"{self.path}: is a directory, not a video")
        if self.path.stat().st_size == 0:
            raise VideoReadError(f"{self.path}: empty file")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
            raise VideoReadError(f"{self.path}: not a readable video, or a damaged or truncated one ({exc})") from exc
        try:
            self._open_stream()
        except BaseException:
            self.close()
            raise

    def _open_stream(self) -> None:
        if not self._container.streams.video:
            raise VideoReadError(f"{self.path}: has no video stream")
        self._stream = stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        ctx = stream.codec_context
        if ctx is None or not ctx.name:
            raise VideoReadError(f"{self.path}: unsupported video codec")
        self._rate = float(stream.average_rate or stream.guessed_rate or Fraction(30))
        self._time_base = stream.time_base
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / 1e6
        #: the frame count the container declares: its count, else duration x frame rate; None if unknown
        self.frames_declared: int | None = (stream.frames or (int(round(duration * self._rate)) if duration else 0)
                                            or None)
        start = stream.start_time
        self._start = float(start * stream.time_base) if start is not None and stream.time_base else None
        rotate_tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), None)
        self._frames_iter = self._frames()
        self._first = next(self._frames_iter, None)  # the first frame tells the displayed size
        if self._first is None:
            raise VideoReadError(f"{self.path}: no video frame could be decoded (the file may be damaged or truncated)")
        first = self._first[2]
        self._steps = display_transform(_frame_display_matrix(first), rotate_tag)
        width, height = first.width, first.height
        if transform_rotation(self._steps) in (90, 270) or "transpose" in self._steps or "antitranspose" in self._steps:
            width, height = height, width
        self.info = VideoInfo(str(self.path), width, height, self._rate, duration, self.frames_declared, ctx.name,
                              transform_rotation(self._steps))

    # -- status ---------------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        """True when the video was read to its end, was not ``truncated``, and the frames read plus
        skipped reach the declared count within :func:`completeness_margin` (max(2 frames, 1%));
        with no declared count, when it was read to its end untruncated. False before the end."""
        if not self._finished or self.truncated:
            return False
        if self.frames_declared is None:
            return True
        return self.frames_read + self.skipped >= self.frames_declared - completeness_margin(self.frames_declared)

    def status(self) -> dict:
        """``frames_declared``, ``frames_read``, ``skipped``, ``truncated``, ``complete``."""
        return {"frames_declared": self.frames_declared, "frames_read": self.frames_read, "skipped": self.skipped,
                "truncated": self.truncated, "complete": self.complete}

    def expected_samples(self) -> int | None:
        """About how many frames iteration yields (for progress bars)."""
        if not self.info.frames:
            return None
        total = self.info.frames
        if self.target_fps:
            left = max(0, total - self.start_frame)
            return int(np.ceil(left * min(1.0, self.target_fps / self.info.fps)))
        return max(0, -(-total // self.every) - (-(-self.start_frame // self.every)))

    def _warn(self, message: str, *args) -> None:
        self._warnings += 1
        if self._warnings <= MAX_WARNINGS:
            log.warning("%s: " + message, self.path, *args)
        elif self._warnings == MAX_WARNINGS + 1:
            log.warning("%s: more damage; further warnings for this file are not shown", self.path)

    # -- decoding -------------------------------------------------------------------------------

    def _decoded(self) -> Iterator[object]:
        """Decoded frames in order; None for a packet that failed to decode."""
        import av

        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:  # the container itself is damaged from here on
                self._warn("the container cannot be read past this point, reading stops (%s)", exc)
                self._demux_failed = self.truncated = True
                try:
                    yield from self._stream.decode(None)  # what the decoder still holds
                except (av.error.FFmpegError, ValueError):
                    pass
                return
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                log.debug("%s: packet at pts %s failed to decode: %s", self.path, packet.pts, exc)
                yield None
                continue
            yield from frames

    def _frames(self) -> Iterator[tuple[int, float, object]]:
        """(index, time_s, frame) for the usable frames, with the damage accounting of the module doc."""
        nominal = 1.0 / self._rate
        tb = self._time_base
        origin = None  # seconds of the video's start in the stream's timeline
        shift = 0.0  # added to times after a re-based discontinuity
        last_index, last_t, expected = -1, None, None
        errors = rejected = 0  # since the last usable frame: packets that failed, frames unusable
        run: list[tuple[float, object, float]] = []  # frames whose time went back, held a moment

        def accept(t: float, frame, duration: float, gap: int | None):
            nonlocal last_index, last_t, expected, errors, rejected
            missing = max(gap, rejected) if gap is not None else max(errors, rejected)
            step = gap if gap is not None else missing
            if missing:
                self.skipped += missing
                self._warn("%d frame(s) before %.3fs could not be decoded, were corrupt or had bad timestamps: "
                           "skipped", missing, t)
            last_index += 1 + step
            last_t, expected = t, t + duration
            errors = rejected = 0
            self.frames_read += 1
            return last_index, t, frame

        held = None  # a frame after a gap in the timestamps, waiting for the next one to confirm it
        for frame in self._decoded():
            if frame is None:
                errors += 1
                continue
            if getattr(frame, "is_corrupt", False):
                rejected += 1
                continue
            raw = float(frame.pts * tb) if frame.pts is not None and tb is not None else None
            duration = float(frame.duration * tb) if getattr(frame, "duration", None) and tb is not None else nominal
            if origin is None:
                origin = raw if self._start is None else (min(self._start, raw) if raw is not None else self._start)
                origin = origin or 0.0
            t = round(raw - origin + shift, 6) if raw is not None else None
            if held is not None:
                # a frame between the last one and the held one: the held frame's jump was a bad timestamp
                if t is not None and (last_t is None or t > last_t) and t < held[0]:
                    rejected += 1
                else:
                    yield accept(*held)
                held = None
            if t is None:
                t, gap = round(expected if expected is not None else 0.0, 6), None
            else:
                slots = (t - (expected if expected is not None else 0.0)) / nominal
                gap = int(round(slots)) if slots >= 0.5 else 0
            if last_t is not None and t <= last_t:
                if run and t > run[-1][0]:
                    run.append((t, frame, duration))
                else:
                    rejected += len(run)
                    run = [(t, frame, duration)]
                if len(run) < REBASE_AFTER:
                    continue
                delta = expected - run[0][0]
                shift += delta
                self._warn("timestamps jump back by %.3fs after %.3fs; later frames are timed on from there",
                           delta, last_t)
                for rt, rframe, rdur in run:
                    yield accept(max(round(rt + delta, 6), round(last_t + 1e-6, 6)), rframe, rdur, 0)
                run = []
                continue
            rejected += len(run)
            run = []
            if gap:
                held = (t, frame, duration, gap)
            else:
                yield accept(t, frame, duration, gap)
        if held is not None:
            yield accept(*held)
        tail = max(errors, rejected + len(run))
        if tail and self.frames_declared is not None:
            # failures past the declared end are not frames (e.g. a damaged index read as packets)
            tail = min(tail, max(0, self.frames_declared - (last_index + 1)))
        if tail:
            self.skipped += tail
            self._warn("%d frame(s) at the end could not be decoded or had bad timestamps: skipped", tail)
        self._finished = True
        self.truncated = self._demux_failed or (
            self.frames_declared is not None
            and self.frames_read + self.skipped < self.frames_declared - completeness_margin(self.frames_declared))
        if not self.complete:
            declared = "an unknown number" if self.frames_declared is None else self.frames_declared
            log.warning("%s: incomplete video: %d frames read and %d skipped of %s declared%s", self.path,
                        self.frames_read, self.skipped, declared,
                        " (truncated or damaged)" if self.truncated else "")

    def __iter__(self) -> Iterator[VideoFrame]:
        first, self._first = self._first, None
        frames = self._frames_iter
        if first is not None:
            frames = _chain(first, frames)
        origin = None
        last_slot = -1
        for index, t, frame in frames:
            if self.target_fps:
                origin = t if origin is None else origin
                slot = math.floor((t - origin) * self.target_fps + 1e-6)
                if slot <= last_slot:
                    continue
                last_slot = slot
            elif index % self.every:
                continue
            if index < self.start_frame:
                continue
            try:
                image = frame_to_bgr(frame)
            except Exception as exc:  # noqa: BLE001 - a frame FFmpeg cannot convert is skipped, not fatal
                self.skipped += 1
                self.frames_read -= 1
                self._warn("frame %d (%.3fs) could not be converted: skipped (%s)", index, t, exc)
                continue
            yield VideoFrame(index, t, apply_transform(image, self._steps))

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def frame_to_bgr(frame) -> np.ndarray:
    """A decoded PyAV frame as a BGR uint8 array. The usual 4:2:0 limited-range frames are converted
    by OpenCV (BT.601, the same formula as FFmpeg's default), about 8x faster than FFmpeg's
    software scaler at 720p; any other pixel format goes through FFmpeg."""
    if (frame.format.name == "yuv420p" and frame.color_range != 2  # 2: full ("JPEG") range
            and frame.width % 2 == 0 and frame.height % 2 == 0):
        import cv2

        return cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24")


def _chain(first, rest):
    yield first
    yield from rest
