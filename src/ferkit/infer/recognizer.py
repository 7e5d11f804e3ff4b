"""The Recognizer: faces and their emotions in images, videos and live streams, on one pipeline.

Shaped like MediaPipe Tasks: one options object, checked when it is made, then a call per kind of
input::

    from ferkit import Recognizer, RecognizerOptions, VideoOptions
    with Recognizer(RecognizerOptions(detector="blazeface", score_threshold=0.5)) as rec:
        result = rec.analyze_image("photo.jpg")            # ImageResult: faces, left to right
        for frame in rec.analyze_video("clip.mp4", VideoOptions(fps=5)):
            print(frame.time_s, [f.label for f in frame])  # FrameResult: tracked faces
        with rec.open_stream(VideoOptions(smoothing_half_life_s=0.5)) as stream:
            frame = stream.process(camera_image, timestamp_s=0.033)

Faces are detected, aligned to the model's framing and classified in one ONNX Runtime batch per
image; PyTorch is not needed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ferkit.core.capture import open_frame_source
from ferkit.core.errors import InputError, OptionError
from ferkit.core.inputs import load_image
from ferkit.infer.options import RecognizerOptions, VideoOptions
from ferkit.infer.pipeline import FacePipeline
from ferkit.infer.results import FrameResult, ImageResult
from ferkit.infer.stream import FaceStream


class Recognizer:
    """Build it once (loading the detector and the model) and use it for any number of inputs;
    ``close()`` it, or use it as a context manager."""

    def __init__(self, options: RecognizerOptions | None = None, **kwargs: Any):
        if options is not None and kwargs:
            raise TypeError("pass either a RecognizerOptions or keyword options, not both")
        if options is not None and not isinstance(options, RecognizerOptions):
            raise OptionError(f"options must be a RecognizerOptions (or keyword options), got {type(options).__name__}")
        self.options = options or RecognizerOptions(**kwargs)
        self.pipeline = FacePipeline(self.options)
        self.closed = False

    @property
    def classes(self) -> tuple[str, ...]:
        self._check_open()
        return self.pipeline.classes

    def _check_open(self) -> None:
        if self.closed:
            raise InputError("this Recognizer is closed")

    def analyze_image(self, image) -> ImageResult:
        """Every face in ``image`` (a path, NumPy array or PIL image), left to right. An input that
        cannot be read raises an InputError (``analyze_images`` records it instead)."""
        return self._analyze(image)[0]

    def _analyze(self, image) -> tuple[ImageResult, np.ndarray]:
        self._check_open()
        loaded = load_image(image, self.options.color_order)
        height, width = loaded.bgr.shape[:2]
        path = str(image) if isinstance(image, (str, os.PathLike)) else None
        faces = self.pipeline(loaded.bgr)
        return ImageResult(path, width, height, faces, notes=loaded.notes, classes=self.classes), loaded.bgr

    def analyze_images(self, images) -> Iterator[ImageResult]:
        """One result per input; one that cannot be read or analysed gets ``status`` "error" with
        its reason in ``error``, and the rest go on."""
        if isinstance(images, (str, os.PathLike, np.ndarray)):
            raise OptionError("analyze_images takes a list (or any iterable) of images; for one image use "
                              "analyze_image")
        for image in images:
            yield self.analyze_or_record(image)[0]

    def analyze_or_record(self, image) -> tuple[ImageResult, np.ndarray | None]:
        """The result and the image as read (BGR); for an input that cannot be read or analysed, a
        result with ``status`` "error" and None."""
        import cv2

        self._check_open()  # a closed Recognizer is the caller's mistake, not the image's
        try:
            return self._analyze(image)
        except (InputError, OSError) as exc:
            message = str(exc)
        except cv2.error as exc:  # an image the decoder or detector cannot handle
            message = f"cannot analyse ({exc.err or exc})"
        path = str(image) if isinstance(image, (str, os.PathLike)) else None
        if path and not message.startswith(path):
            message = f"{path}: {message}"
        return ImageResult.failed(path, message, self.classes), None

    def open_stream(self, options: VideoOptions | None = None) -> FaceStream:
        """A new stream with its own tracking and smoothing state (see :class:`FaceStream`)."""
        self._check_open()
        return FaceStream(self.pipeline, _video_options(options), self.options.color_order)

    def analyze_video(self, source, options: VideoOptions | None = None, start_frame: int = 0) -> VideoFrames:
        """Iterate over the analysed frames of a video file, a camera ("0") or a stream URL:
        :class:`FrameResult` objects with tracked faces. The iterator's ``source`` tells how the
        reading went (frames read, skipped, complete)."""
        self._check_open()
        options = _video_options(options)
        return VideoFrames(self.open_stream(options), open_frame_source(source, options.every, options.fps,
                                                                         start_frame=start_frame))

    def close(self) -> None:
        """No more calls; the detector and model are freed once no stream opened from it is in use."""
        self.closed = True
        self.pipeline = None

    def __enter__(self) -> Recognizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _video_options(options) -> VideoOptions:
    if options is None:
        return VideoOptions()
    if not isinstance(options, VideoOptions):
        raise OptionError(f"video options must be a VideoOptions, got {type(options).__name__}")
    return options


class VideoFrames:
    """Iterates the ``FrameResult`` of each sampled frame of ``source``; ``last_image`` is the frame
    just analysed (BGR), for drawing. The source is closed when iteration ends or on ``close()``."""

    def __init__(self, stream: FaceStream, source):
        self.stream, self.source = stream, source
        self.last_image = None

    def __iter__(self) -> Iterator[FrameResult]:
        try:
            for frame in self.source:
                self.last_image = frame.image
                yield self.stream.process(frame.image, frame.time_s, frame.index)
        finally:
            self.source.close()

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
