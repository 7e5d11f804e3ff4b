"""Face alignment: level the eyes, crop a square around the face with a margin, grayscale, resize
to the model's input; and eye/eyebrow and mouth region crops from landmarks.

The crop is ``scale`` times the box side, centred on the box centre moved by ``shift`` (fractions
of the box side). Each detector registers its own values with it, measured so that the crop frames
a face as FER2013's 48x48 images do (``benchmarks/calibrate_crop.py``): use
``detector_entry(name).crop_scale`` and ``.crop_shift`` from :mod:`ferkit.faces.registry`."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ferkit.core.images import resize_gray, to_gray
from ferkit.faces.detection import LANDMARK_SCHEMES, Detection

#: faces tilted less than this (degrees) are not rotated
MIN_ROTATION = 1.0


@dataclass
class AlignedFace:
    """``image``: the (size, size) uint8 grayscale crop; ``matrix``: the 2x3 affine transform from
    original image pixels to crop pixels; ``angle``: the rotation applied, in degrees."""

    image: np.ndarray
    matrix: np.ndarray
    angle: float

    def transform(self, points: np.ndarray) -> np.ndarray:
        """Map (K, 2) points from the original image into the crop."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]


def eye_angle(right_eye: np.ndarray, left_eye: np.ndarray) -> float:
    """The tilt of the line from the person's right eye (image left) to the left eye, in degrees
    (positive: the image-right eye is lower)."""
    dx, dy = np.asarray(left_eye, dtype=np.float64) - np.asarray(right_eye, dtype=np.float64)
    return float(np.degrees(np.arctan2(dy, dx)))


def crop_matrix(center: tuple[float, float], side: float, out: int, angle: float = 0.0) -> np.ndarray:
    """The 2x3 transform taking the square of ``side`` pixels at ``center``, rotated by ``angle``
    degrees, onto an ``out`` x ``out`` image."""
    k = out / side
    rot = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), angle, k)
    rot[:, 2] += np.array([out / 2.0 - center[0], out / 2.0 - center[1]])
    return rot


def source_window(image: np.ndarray, matrix: np.ndarray, out: int, margin: int = 2) -> tuple[np.ndarray, tuple[int, int]]:
    """The part of ``image`` an ``out`` x ``out`` warp by ``matrix`` reads (with ``margin`` pixels
    for interpolation, clipped to the image) and its top-left corner. Clipping happens only at the
    image's own edges, so a border-replicating warp of the part gives what the whole image gives."""
    height, width = image.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [out, 0, 1], [0, out, 1], [out, out, 1]], dtype=np.float64) @ inverse.T
    x0 = int(np.clip(np.floor(corners[:, 0].min()) - margin, 0, width - 1))
    y0 = int(np.clip(np.floor(corners[:, 1].min()) - margin, 0, height - 1))
    x1 = int(np.clip(np.ceil(corners[:, 0].max()) + margin + 1, x0 + 1, width))
    y1 = int(np.clip(np.ceil(corners[:, 1].max()) + margin + 1, y0 + 1, height))
    return image[y0:y1, x0:x1], (x0, y0)


def align_face(
    image: np.ndarray,
    detection: Detection | tuple[float, float, float, float],
    size: int = 48,
    scale: float = 1.0,
    shift: tuple[float, float] = (0.0, 0.0),
    rotate: bool = True,
) -> AlignedFace:
    """The ``size`` x ``size`` grayscale face crop of ``detection`` (or a bare box) in ``image``.

    With eye landmarks and ``rotate``, the crop is turned so the eyes are level. The crop is first
    taken at (about) full resolution and then shrunk with area interpolation, as dataset images are,
    so a large face does not alias; parts outside the image repeat the border pixels."""
    det = detection if isinstance(detection, Detection) else Detection(tuple(detection), 1.0)
    x, y, w, h = det.box
    side_box = max(w, h)
    if side_box <= 0:
        raise ValueError(f"empty face box {det.box}")
    side = side_box * scale
    center = (x + w / 2 + shift[0] * side_box, y + h / 2 + shift[1] * side_box)
    angle = 0.0
    eyes = det.eye_centers() if rotate else None
    if eyes is not None:
        tilt = eye_angle(*eyes)
        angle = tilt if abs(tilt) >= MIN_ROTATION else 0.0
    mid = int(min(max(round(side), size), 1024))
    first = crop_matrix(center, side, mid, angle)
    # only the pixels the crop reads are converted to gray (a face is a small part of a video frame)
    part, (x0, y0) = source_window(image, first, mid)
    first[:, 2] += first[:, :2] @ np.array([x0, y0], dtype=np.float64)
    crop = cv2.warpAffine(to_gray(part), first, (mid, mid), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(resize_gray(crop, size), crop_matrix(center, side, size, angle), angle)


#: region name -> landmark indices (iBUG 68 scheme)
REGIONS_68 = {"eyes": list(range(17, 27)) + list(range(36, 48)), "mouth": list(range(48, 68))}


def region_boxes(landmarks: np.ndarray, scheme: str, margin: float = 0.15) -> dict[str, tuple[float, float, float, float]]:
    """Eye/eyebrow and mouth boxes (x, y, w, h) from landmarks, each grown by ``margin`` of its
    size on every side. With the 6 BlazeFace keypoints the boxes are placed from the eye distance."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if scheme not in LANDMARK_SCHEMES or len(pts) != LANDMARK_SCHEMES[scheme]["n"]:
        raise ValueError(f"landmarks of shape {pts.shape} do not match scheme {scheme!r}")
    boxes = {}
    if scheme == "ibug68":
        for name, idx in REGIONS_68.items():
            lo, hi = pts[idx].min(axis=0), pts[idx].max(axis=0)
            boxes[name] = (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])
    else:
        spec = LANDMARK_SCHEMES[scheme]
        right, left = pts[spec["right_eye"]].mean(axis=0), pts[spec["left_eye"]].mean(axis=0)
        mouth = pts[spec["mouth"]].mean(axis=0)
        d = float(np.linalg.norm(left - right))
        mid = (left + right) / 2
        # brows sit about 0.45 eye distances above the eye centres (iBUG 68 faces, mean shape)
        boxes["eyes"] = (mid[0] - 0.9 * d, mid[1] - 0.6 * d, 1.8 * d, 0.9 * d)
        boxes["mouth"] = (mouth[0] - 0.6 * d, mouth[1] - 0.35 * d, 1.2 * d, 0.7 * d)
    return {
        name: (x - margin * w, y - margin * h, w * (1 + 2 * margin), h * (1 + 2 * margin))
        for name, (x, y, w, h) in boxes.items()
    }


def region_crops(
    image: np.ndarray,
    landmarks: np.ndarray,
    scheme: str,
    sizes: dict[str, tuple[int, int]] | None = None,
    margin: float = 0.15,
) -> dict[str, np.ndarray]:
    """Grayscale crops of the eye/eyebrow and mouth regions, resized to ``sizes`` (width, height);
    defaults: eyes 64x32, mouth 48x32. Use on an aligned face with its transformed landmarks."""
    sizes = {"eyes": (64, 32), "mouth": (48, 32), **(sizes or {})}
    gray = to_gray(image)
    crops = {}
    for name, (x, y, w, h) in region_boxes(landmarks, scheme, margin).items():
        out_w, out_h = sizes[name]
        src = np.float32([[x, y], [x + w, y], [x, y + h]])
        dst = np.float32([[0, 0], [out_w, 0], [0, out_h]])
        m = cv2.getAffineTransform(src, dst)
        crops[name] = cv2.warpAffine(gray, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crops
