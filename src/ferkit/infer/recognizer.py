"""The Recognizer: faces and their emotions in images (video and live streams build on it).

Shaped like MediaPipe Tasks: one options object, then a call per kind of input::

    from ferkit import Recognizer, RecognizerOptions
    rec = Recognizer(RecognizerOptions(detector="blazeface", score_threshold=0.5))
    for face in rec.analyze_image("photo.jpg"):
        print(face.box, face.label, face.emotions["happy"])

Faces are detected, aligned to the model's framing and classified in one ONNX Runtime batch per
image; PyTorch is not needed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.faces import Detection, DetectorOptions, create_detector
from ferkit.faces.align import CROP_DEFAULTS, align_face
from ferkit.infer.classifier import EmotionClassifier
from ferkit.core.inputs import load_bgr
from ferkit.core.labels import SENTIMENTS, sentiment_map, sentiment_probabilities


@dataclass
class RecognizerOptions:
    """Everything a Recognizer needs; every field has a default.

    ``model``: an exported ONNX model or a checkpoint (None: the bundled default model).
    ``detector``: a name from ``ferkit.faces.list_detectors()``; ``detector_cfg`` its own settings.
    ``score_threshold``, ``min_face_size``, ``max_faces``, ``upsample``: see ``DetectorOptions``.
    ``align``: level the eyes when the detector gives landmarks. ``crop_scale``/``crop_shift``: the
    face crop relative to the box (None: the detector's measured default).
    ``batch_size``: faces per classifier call. ``tta``: none, flip or ten_crop. ``threads``: ONNX
    Runtime threads for the classifier (0: its default). ``sentiment_map``: name or mapping.
    ``color_order``: how to read 3- and 4-channel NumPy arrays (bgr or rgb)."""

    model: str | Path | None = None
    detector: str = "blazeface"
    detector_cfg: dict[str, Any] = field(default_factory=dict)
    score_threshold: float = 0.5
    min_face_size: int = 20
    max_faces: int | None = None
    upsample: int = 0
    align: bool = True
    crop_scale: float | None = None
    crop_shift: tuple[float, float] | None = None
    batch_size: int = 64
    tta: str = "none"
    threads: int = 0
    sentiment_map: str | dict[str, str] = "default"
    color_order: str = "bgr"

    def detector_options(self) -> DetectorOptions:
        return DetectorOptions(self.score_threshold, self.min_face_size, self.max_faces, self.upsample)


@dataclass
class Face:
    """One face: ``box`` [x, y, w, h] in pixels of the input, detector ``score``, ``landmarks``
    ([[x, y], ...] or None), ``emotions`` {class: probability} summing to 1, ``label`` (the most
    probable class), ``sentiment`` (the label's sentiment) and ``sentiment_scores`` (class
    probabilities summed per sentiment)."""

    box: list[int]
    score: float
    emotions: dict[str, float]
    label: str
    sentiment: str
    sentiment_scores: dict[str, float]
    landmarks: list[list[float]] | None = None
    #: in videos and streams: the face's track, and its unsmoothed probabilities (``emotions``
    #: is then smoothed over time)
    track_id: int | None = None
    emotions_raw: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (the video-only fields when they are set)."""
        d = asdict(self)
        for key in ("track_id", "emotions_raw"):
            if d[key] is None:
                del d[key]
        return d


class Recognizer:
    def __init__(self, options: RecognizerOptions | None = None, **kwargs: Any):
        if options is not None and kwargs:
            raise TypeError("pass either a RecognizerOptions or keyword options, not both")
        self.options = options or RecognizerOptions(**kwargs)
        opts = self.options
        self.classifier = EmotionClassifier(opts.model, threads=opts.threads)
        self.detector = create_detector(opts.detector, opts.detector_options(), **opts.detector_cfg)
        crop = CROP_DEFAULTS.get(opts.detector, {"scale": 1.0, "shift": (0.0, 0.0)})
        self.crop_scale = opts.crop_scale if opts.crop_scale is not None else crop["scale"]
        self.crop_shift = tuple(opts.crop_shift) if opts.crop_shift is not None else tuple(crop["shift"])
        self._sentiments = sentiment_map(opts.sentiment_map)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.classifier.classes

    def detect(self, image) -> tuple[np.ndarray, list[Detection]]:
        """The image as uint8 BGR, and its faces."""
        bgr = load_bgr(image, self.options.color_order)
        return bgr, self.detector.detect(bgr)

    def align(self, bgr: np.ndarray, detections: list[Detection]) -> np.ndarray:
        """(N, S, S) uint8 grayscale crops at the model's image size."""
        size = self.classifier.image_size
        if not detections:
            return np.empty((0, size, size), dtype=np.uint8)
        import cv2

        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        return np.stack(
            [align_face(gray, d, size, self.crop_scale, self.crop_shift, self.options.align).image for d in detections]
        )

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """(N, C) float64 probabilities of aligned crops."""
        if len(crops) == 0:
            return np.empty((0, len(self.classes)))
        return self.classifier.predict_proba(crops, tta=self.options.tta, batch_size=self.options.batch_size)

    def faces_from(self, detections: list[Detection], probs: np.ndarray, track_ids: list[int] | None = None,
                   raw: np.ndarray | None = None) -> list[Face]:
        """Face results; with ``raw``, ``probs`` are the smoothed values and ``raw`` the frame's own."""
        sentiment_scores = sentiment_probabilities(probs, self.classes, self._sentiments)
        faces = []
        for i, (det, p, s) in enumerate(zip(detections, probs, sentiment_scores)):
            label = self.classes[int(np.argmax(p))]
            faces.append(
                Face(
                    box=[int(round(v)) for v in det.box],
                    score=float(det.score),
                    emotions={c: float(v) for c, v in zip(self.classes, p)},
                    label=label,
                    sentiment=self._sentiments[label],
                    sentiment_scores={name: float(v) for name, v in zip(SENTIMENTS, s)},
                    landmarks=None if det.landmarks is None else np.round(det.landmarks, 2).tolist(),
                    track_id=None if track_ids is None else int(track_ids[i]),
                    emotions_raw=None if raw is None else {c: float(v) for c, v in zip(self.classes, raw[i])},
                )
            )
        return faces

    def analyze_image(self, image) -> list[Face]:
        """Every face in ``image`` (a path, NumPy array or PIL image), left to right."""
        bgr, detections = self.detect(image)
        return self.faces_from(detections, self.classify(self.align(bgr, detections)))

    def analyze_video(self, path: str | Path, video_options=None):
        """Iterate over a video file's sampled frames: ``FrameResult`` (frame index, time in
        seconds, tracked faces). ``video_options``: a ``ferkit.video.VideoOptions`` (sampling, detection
        interval, tracking, smoothing). The reader's ``skipped`` count is on the iterator."""
        from ferkit.infer.stream import iterate_video

        return iterate_video(self, path, video_options)

    def analyze_stream(self, image, timestamp_s: float) -> list[Face]:
        """Faces in one frame of a live stream, tracked across calls (timestamps must increase).
        ``reset_stream()`` starts a new stream."""
        from ferkit.infer.stream import StreamAnalyzer

        if getattr(self, "_stream", None) is None:
            self._stream = StreamAnalyzer(self)
        return self._stream.process(load_bgr(image, self.options.color_order), timestamp_s)

    def reset_stream(self) -> None:
        self._stream = None
