"""Emotion classification of aligned face crops from an ONNX model (ONNX Runtime, no PyTorch needed)
or a training checkpoint (PyTorch). Both carry their classes and preprocessing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.onnx_runtime import session_options
from ferkit.core.preprocess import check_preprocess, tta_views
from ferkit.core.regions import check_regions, region_views

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
#: models that ship inside the package, by name (each with its model card beside it): the default
#: (vgg_compact); "fast", the default pruned to a quarter of its work, distilled from it and stored as int8;
#: the other precision of each; and "ensemble", the most accurate: three vgg_compact members chosen on
#: PublicTest (``ferkit ensemble --select-on``), int8, the teacher for distilling the default
BUNDLED_MODELS = {
    "default": WEIGHTS_DIR / "ferkit_default.onnx",
    "default-int8": WEIGHTS_DIR / "ferkit_default_int8.onnx",
    "fast": WEIGHTS_DIR / "ferkit_fast.onnx",
    "fast-fp32": WEIGHTS_DIR / "ferkit_fast_fp32.onnx",
    "ensemble": WEIGHTS_DIR / "ferkit_ensemble.onnx",
}
DEFAULT_MODEL = BUNDLED_MODELS["default"]
MODEL_SUFFIXES = (".onnx", ".pt", ".pth")
METADATA_KEY = "ferkit"
#: an ensemble's second output: each member's probabilities, (N, members, classes)
MEMBER_OUTPUT = "member_probs"


def resolve_model(model: str | Path | None) -> Path:
    """A bundled model's name (None: "default") or a model file's path, as the file to load."""
    if model is None:
        return DEFAULT_MODEL
    if isinstance(model, str) and model in BUNDLED_MODELS:
        return BUNDLED_MODELS[model]
    if not isinstance(model, (str, Path)):
        raise OptionError(f"model must be a bundled model name or a file path, got {model!r}")
    path = Path(model)
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise OptionError(f"model {str(model)!r}: not a bundled model ({', '.join(BUNDLED_MODELS)}) "
                          f"nor a model file ({', '.join(MODEL_SUFFIXES)})")
    if not path.is_file():
        raise MissingInputError(f"{path}: no such model file")
    return path


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class EmotionClassifier:
    """``predict_proba(faces)`` for (N, S, S) uint8 grayscale faces at the model's ``image_size``."""

    def __init__(self, path: str | Path | None = None, threads: int = 0, spinning: bool = True):
        """``threads``: ONNX Runtime's (or PyTorch's) threads, 0 for the default. ``spinning=False``: ONNX
        Runtime's threads sleep between calls (:func:`ferkit.core.onnx_runtime.session_options`)."""
        self.path = resolve_model(path)
        if self.path.suffix == ".onnx":
            self._load_onnx(threads, spinning)
        else:
            self._load_checkpoint(threads)
        self.preprocess = check_preprocess(self.preprocess)
        self.image_size = int(self.preprocess["image_size"])

    def _load_onnx(self, threads: int, spinning: bool) -> None:
        import onnxruntime as ort

        opts = session_options(threads, spinning)
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise InputError(f"{self.path}: not a loadable ONNX model ({exc})") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise InputError(f"{self.path}: ONNX model has no ferkit metadata (export it with `ferkit export`)")
        info = json.loads(meta[METADATA_KEY])
        self.classes = tuple(info["classes"])
        self.preprocess = info["preprocess"]
        self.info = info
        self.input_name = self.session.get_inputs()[0].name
        self.takes_regions = any(i.name == "regions" for i in self.session.get_inputs())
        self.output_name = self.session.get_outputs()[0].name
        self.backend = "onnxruntime"
        members = info.get("ensemble") or []
        self.members = tuple(m["name"] for m in members)

    def _load_checkpoint(self, threads: int) -> None:
        import torch

        from ferkit.models.checkpoint import load_checkpoint

        if threads:
            torch.set_num_threads(threads)
        self.model, state = load_checkpoint(self.path)
        self.classes = tuple(state["classes"])
        self.preprocess = state["preprocess"]
        self.info = {k: state.get(k) for k in ("model", "epoch", "metrics", "dataset")}
        self.backend = "torch"
        self.members = ()
        self.takes_regions = bool(getattr(self.model, "takes_regions", False))

    def _logits(self, x: np.ndarray, member: int | None = None, regions: np.ndarray | None = None) -> np.ndarray:
        if self.backend == "onnxruntime":
            if member is not None:  # log-probabilities of one ensemble member
                return self._member_logits(x, regions)[:, member]
            feed = {self.input_name: x} if regions is None else {self.input_name: x, "regions": regions}
            return self.session.run([self.output_name], feed)[0]
        import torch

        with torch.no_grad():
            if regions is None:
                return self.model(torch.from_numpy(x)).numpy()
            return self.model(torch.from_numpy(x), torch.from_numpy(regions)).numpy()

    def _member_logits(self, x: np.ndarray, regions: np.ndarray | None = None) -> np.ndarray:
        """(N, members, C) log-probabilities of every ensemble member, from one run of the graph."""
        feed = {self.input_name: x} if regions is None else {self.input_name: x, "regions": regions}
        probs = self.session.run([MEMBER_OUTPUT], feed)[0]
        return np.log(np.maximum(probs, np.finfo(np.float32).tiny))

    def predict_proba(self, faces: np.ndarray, tta: str = "none", batch_size: int = 256,
                      member: int | None = None, regions: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (N, C), float64 rows summing to 1; logits averaged over TTA views.
        ``member``: those of one member of an ensemble (an index into ``members``).

        The region model (``takes_regions``) also takes ``regions``, (N, 2, 4) eye-and-brow and mouth
        boxes in fractions of the faces (:mod:`ferkit.faces.regions`); without them they are found
        with dlib's landmarks on the faces (fixed-ratio boxes where there are none)."""
        if member is not None and not 0 <= member < len(self.members):
            raise OptionError(f"member must be an index below {len(self.members)} (this model's ensemble members: "
                              f"{', '.join(self.members) or 'none'}), got {member!r}")
        return self._predict(faces, tta, batch_size, regions, lambda x, r: self._logits(x, member, r))

    def predict_member_proba(self, faces: np.ndarray, tta: str = "none", batch_size: int = 256) -> np.ndarray:
        """Every ensemble member's probabilities, (N, members, C), in one pass over the faces."""
        if not self.members:
            raise OptionError(f"{self.path} is not an ensemble (ferkit ensemble): it has no members")
        return self._predict(faces, tta, batch_size, None, self._member_logits)

    def _predict(self, faces, tta: str, batch_size: int, regions, logits_of) -> np.ndarray:
        """``softmax`` of ``logits_of(views, boxes)`` averaged over the TTA views, batch by batch."""
        faces = np.asarray(faces)
        if faces.ndim == 2:
            faces = faces[None]
        if self.takes_regions:
            if regions is None:
                from ferkit.faces.regions import face_regions

                regions = face_regions(faces)[0]
            try:
                regions = check_regions(regions, len(faces))
            except ValueError as exc:
                raise InputError(str(exc)) from None
        out = []
        for start in range(0, len(faces), batch_size):
            views = tta_views(faces[start : start + batch_size], self.preprocess, tta)
            boxes = None
            if self.takes_regions:
                boxes = np.concatenate(region_views(regions[start : start + batch_size], self.preprocess, tta))
            out.append(self._views_proba(views, boxes, logits_of))
        return np.concatenate(out) if out else np.empty((0, len(self.classes)), dtype=np.float64)

    def proba_from_inputs(self, views: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (N, C) from model inputs already made: (N, 1, s, s) float arrays at the model's
        ``input_size``, normalised its way, one per view of the same faces (logits averaged over views)."""
        views = [np.ascontiguousarray(v, dtype=np.float32) for v in views]
        return self._views_proba(views, None, lambda x, r: self._logits(x))

    @staticmethod
    def _views_proba(views: list[np.ndarray], boxes, logits_of) -> np.ndarray:
        # all views in one call: small batches are mostly call overhead
        logits = logits_of(np.concatenate(views), boxes)
        logits = logits.reshape(len(views), len(views[0]), *logits.shape[1:]).mean(axis=0)
        return softmax(logits)
