"""BlazeFace short-range (MediaPipe, Apache-2.0) run with ONNX Runtime: fast, with 6 keypoints.

The model sees the image letterboxed to 128x128, so it finds faces larger than about a tenth of
the window; non-square images are also seen as overlapping squares, and ``upsample`` adds
smaller tiles to find smaller faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ferkit.core.images import shrink_area
from ferkit.core.onnx_runtime import session_options
from ferkit.faces.detection import Detection, DetectorOptions, finalize, weighted_nms
from ferkit.faces.registry import register_detector

MODEL_PATH = Path(__file__).resolve().parent.parent / "weights" / "blazeface_short_range.onnx"
INPUT = 128
#: SSD anchors of the short-range model: (stride, anchors per cell); all of size 1 (fixed)
ANCHOR_LAYERS = ((8, 2), (16, 6))


def ssd_anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1] in the order of the model's outputs."""
    centers = []
    for stride, per_cell in ANCHOR_LAYERS:
        cells = INPUT // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
        centers.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centers).astype(np.float32)


def square_starts(length: int, side: int, step: float) -> list[int]:
    """Start positions of windows of ``side`` covering ``length`` with steps of at most ``step``."""
    if length <= side:
        return [0]
    n = int(np.ceil((length - side) / max(step, 1.0))) + 1
    return [int(round(v)) for v in np.linspace(0, length - side, n)]


class BlazeFaceDetector:
    name = "blazeface"

    def __init__(self, options: DetectorOptions, model_path: str | Path | None = None, threads: int = 1,
                 nms_iou: float = 0.3, spinning: bool = True):
        """``threads``, ``spinning``: see :func:`ferkit.core.onnx_runtime.session_options`."""
        import onnxruntime as ort

        self.options = options
        self.nms_iou = nms_iou
        opts = session_options(threads, spinning)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path or MODEL_PATH), opts, providers=["CPUExecutionProvider"])
        self.anchors = ssd_anchors()

    def _windows(self, height: int, width: int, upsample: int = 0) -> list[tuple[int, int, int, int]]:
        """The windows the model looks at: the whole image (finds faces over ~11% of the longer
        side); for a non-square image, also squares of its shorter side along the longer one,
        overlapping by an eighth of the longer side, so a face that is small for the whole image
        is whole in one square; for ``upsample`` k, also squares 2**k times smaller than the longer
        side, overlapping by half."""
        windows = [(0, 0, width, height)]
        short, long_ = min(width, height), max(width, height)
        layers = [(short, short - long_ / 8)] if long_ > short * 1.05 else []
        for k in range(1, upsample + 1):
            side = int(np.ceil(long_ / 2**k))
            layers.append((side, side / 2))
        for side, step in layers:
            for y in square_starts(height, side, step):
                for x in square_starts(width, side, step):
                    windows.append((x, y, min(side, width - x), min(side, height - y)))
        return windows

    def _inputs(self, bgr: np.ndarray, windows: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, list[float]]:
        """The 128x128 letterboxed window crops, RGB in [-1, 1]. The image is shrunk once per
        window size (area interpolation), each size from the next larger one, and the windows are
        cut from that; colours are swapped on the small crops only."""
        height, width = bgr.shape[:2]
        batch = np.zeros((len(windows), INPUT, INPUT, 3), dtype=np.uint8)
        sides = [float(max(w, h)) for _, _, w, h in windows]
        scaled: dict[float, tuple[np.ndarray, float]] = {}
        source = bgr
        for side in sorted(set(sides)):  # largest scale first
            f = INPUT / side
            if f >= 1:
                scaled[side] = (cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR) if f > 1 else bgr, f)
                continue
            size = (max(1, round(width * f)), max(1, round(height * f)))
            source = shrink_area(source, size)
            scaled[side] = (source, f)
        for i, ((x, y, w, h), side) in enumerate(zip(windows, sides)):
            small, f = scaled[side]
            x0, y0 = round(x * f), round(y * f)
            crop = small[y0 : y0 + min(INPUT, round(h * f)), x0 : x0 + min(INPUT, round(w * f))]
            batch[i, : crop.shape[0], : crop.shape[1]] = crop[..., ::-1] if crop.ndim == 3 else crop[..., None]
        x = batch.astype(np.float32)
        x *= 1 / 127.5
        x -= 1.0
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), sides

    def detect(self, image: np.ndarray, options: DetectorOptions | None = None) -> list[Detection]:
        return self.detect_many([image], options)[0]

    def detect_many(self, images: list[np.ndarray], options: DetectorOptions | None = None) -> list[list[Detection]]:
        """The faces of each of several images, the model run once on all of their windows (a
        video's tracked faces, each searched in a small window of its frame, cost one call)."""
        options = options or self.options
        batches, plans = [], []
        for image in images:
            image = np.asarray(image)
            windows = self._windows(*image.shape[:2], options.upsample)
            batch, sides = self._inputs(image, windows)
            batches.append(batch)
            plans.append((windows, sides, image.shape))
        regressors, logits = self.session.run(None, {"input": np.concatenate(batches)})
        # a face must beat the threshold before merging; the merged score is the best member's
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[..., 0], -80, 80)))
        found, start = [], 0
        for windows, sides, shape in plans:
            end = start + len(windows)
            found.append(self._decode(windows, sides, regressors[start:end], scores[start:end], options, shape))
            start = end
        return found

    def _decode(self, windows, sides, regressors, scores, options: DetectorOptions, shape) -> list[Detection]:
        found = []
        for (x0, y0, _, _), side, reg, sc in zip(windows, sides, regressors, scores):
            keep = np.flatnonzero(sc >= options.score_threshold)
            if not len(keep):
                continue
            r = reg[keep] / INPUT
            cx = (r[:, 0] + self.anchors[keep, 0]) * side + x0
            cy = (r[:, 1] + self.anchors[keep, 1]) * side + y0
            w, h = r[:, 2] * side, r[:, 3] * side
            pts = (r[:, 4:16].reshape(-1, 6, 2) + self.anchors[keep, None, :]) * side + np.array([x0, y0])
            for i in range(len(keep)):
                box = (float(cx[i] - w[i] / 2), float(cy[i] - h[i] / 2), float(w[i]), float(h[i]))
                found.append(Detection(box, float(sc[keep[i]]), pts[i].astype(np.float64), "blazeface6"))
        return finalize(weighted_nms(found, self.nms_iou), options, shape)


#: crop framing measured on 300 FER2013 faces: `python benchmarks/calibrate_crop.py --data fer2013.npz --n 300`
@register_detector("blazeface", landmarks="blazeface6", crop_scale=1.19, crop_shift=(0.0, -0.10))
def blazeface(options: DetectorOptions, threads: int = 1, spinning: bool = True, **cfg) -> BlazeFaceDetector:
    """BlazeFace short-range (ONNX Runtime): fastest, 6 keypoints, faces over ~1/10 of the image."""
    return BlazeFaceDetector(options, threads=threads, spinning=spinning, **cfg)
