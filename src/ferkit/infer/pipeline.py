"""The one detect -> align -> classify step that images, folder batches, video files and live streams
all run: a face detector, the alignment the model was trained with, one classifier batch per image,
and the results as :class:`~ferkit.infer.results.Face` objects."""

from __future__ import annotations

import numpy as np

from ferkit.core.labels import SENTIMENTS, sentiment_map, sentiment_probabilities
from ferkit.faces import Detection, create_detector, detector_entry
from ferkit.faces.align import align_face
from ferkit.infer.classifier import EmotionClassifier
from ferkit.infer.options import RecognizerOptions, detector_settings
from ferkit.infer.results import Face


class FacePipeline:
    """Built once from :class:`RecognizerOptions`; stateless between calls (streams keep their own
    state), so one pipeline serves any number of images, videos and streams one after another."""

    def __init__(self, options: RecognizerOptions):
        self.options = options
        # the detector's and the classifier's small calls alternate on the same cores: both ONNX Runtime
        # sessions get the same threads, sleeping between calls (spinning pools fight over the cores;
        # benchmarks/video_throughput.py measures it)
        self.classifier = EmotionClassifier(options.model_path, threads=options.threads, spinning=False)
        entry = detector_entry(options.detector)
        cfg = dict(options.detector_cfg)
        takes = detector_settings(options.detector)
        if "threads" in takes:
            cfg.setdefault("threads", options.threads)
        if "spinning" in takes:
            cfg.setdefault("spinning", False)
        self.detector = create_detector(options.detector, options.detector_options(), **cfg)
        self.crop_scale = options.crop_scale if options.crop_scale is not None else entry.crop_scale
        self.crop_shift = tuple(options.crop_shift) if options.crop_shift is not None else tuple(entry.crop_shift)
        self.sentiments = sentiment_map(options.sentiment_map)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.classifier.classes

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """Faces in a uint8 BGR image, left to right."""
        return self.detector.detect(bgr)

    def classify(self, bgr: np.ndarray, detections: list[Detection]) -> np.ndarray:
        """(N, C) float64 probabilities of the faces at ``detections``: each aligned to the model's
        framing, all classified in one batch."""
        size = self.classifier.image_size
        if not detections:
            return np.empty((0, len(self.classes)))
        aligned = [align_face(bgr, d, size, self.crop_scale, self.crop_shift, self.options.align) for d in detections]
        crops = np.stack([a.image for a in aligned])
        regions = self.regions(detections, aligned) if self.classifier.takes_regions else None
        return self.classifier.predict_proba(crops, tta=self.options.tta, batch_size=self.options.batch_size,
                                             regions=regions)

    def regions(self, detections: list[Detection], aligned: list) -> np.ndarray | None:
        """The region model's boxes from the detector's landmarks moved into each aligned crop; None
        (dlib's landmarks on the crops) when the detector gives no landmarks. Faces whose landmarks
        give implausible regions get the fixed-ratio boxes."""
        if all(d.landmarks is None for d in detections):
            return None
        from ferkit.faces.regions import detection_regions

        points = [None if d.landmarks is None else a.transform(d.landmarks) for d, a in zip(detections, aligned)]
        return detection_regions(points, [d.scheme for d in detections], self.classifier.image_size)[0]

    def aligned_crop(self, gray: np.ndarray, face: Face, size: int | None = None) -> np.ndarray:
        """The (size, size) grayscale crop of a :class:`Face` found in ``gray`` (its frame, grayscale),
        aligned and framed as the classifier saw it (size: the model's image size unless given)."""
        scheme = detector_entry(self.options.detector).landmarks
        landmarks = None if face.landmarks is None else np.asarray(face.landmarks, dtype=np.float64)
        det = Detection(tuple(float(v) for v in face.box), face.score, landmarks, scheme if landmarks is not None
                        else None)
        size = size or self.classifier.image_size
        return align_face(gray, det, size, self.crop_scale, self.crop_shift, self.options.align).image

    def faces(self, detections: list[Detection], probs: np.ndarray, track_ids: list[int] | None = None,
              raw: np.ndarray | None = None) -> list[Face]:
        """Face results; with ``raw``, ``probs`` are smoothed values and ``raw`` the frame's own."""
        classes = self.classes
        sentiment_scores = sentiment_probabilities(probs, classes, self.sentiments)
        faces = []
        for i, (det, p, s) in enumerate(zip(detections, probs, sentiment_scores)):
            label = classes[int(np.argmax(p))]
            faces.append(Face(
                box=[int(round(v)) for v in det.box],
                score=float(det.score),
                emotions={c: float(v) for c, v in zip(classes, p)},
                label=label,
                sentiment=self.sentiments[label],
                sentiment_scores={name: float(v) for name, v in zip(SENTIMENTS, s)},
                landmarks=None if det.landmarks is None else np.round(det.landmarks, 2).tolist(),
                track_id=None if track_ids is None else int(track_ids[i]),
                emotions_raw=None if raw is None else {c: float(v) for c, v in zip(classes, raw[i])},
            ))
        return faces

    def __call__(self, bgr: np.ndarray) -> list[Face]:
        """Detect, align and classify every face of one image."""
        detections = self.detect(bgr)
        return self.faces(detections, self.classify(bgr, detections))
