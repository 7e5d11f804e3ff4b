"""The one results schema: faces, image results and frame results, as records and as flat rows.

A *record* is one image or one video frame with its faces nested (what JSON and JSON Lines hold);
a *row* is one face with its record's fields beside it (what CSV, Parquet and pandas hold; a record
with no face is one row with empty face columns). The emotion columns are the model's classes, so
an 8-class model's ``contempt`` is a column like the others::

    image record: {"path", "width", "height", "status", "error", "notes", "annotated", "faces": [face...]}
    frame record: {"frame", "time_s", "faces": [face...]}
    face:         {"box": [x, y, w, h], "score", "emotions": {class: p}, "label", "sentiment",
                   "sentiment_scores": {negative, neutral, positive}, "landmarks", "track_id"?, "emotions_raw"?}

``status`` of an image: ``ok`` (faces found), ``no_face`` (read, no face) or ``error`` (not read, see
``error``). ``notes`` are remarks on how the input was read (EXIF orientation applied, first frame
of an animated GIF used...). In frames, ``emotions`` are smoothed over time when smoothing is on and
``emotions_raw`` are the frame's own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ferkit.core.errors import InputError
from ferkit.core.labels import EMOTIONS, SENTIMENTS

KINDS = ("image", "frame")
#: record fields (besides ``faces``) per kind, in column order
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "image": ("path", "width", "height", "status", "error", "notes", "annotated"),
    "frame": ("frame", "time_s"),
}
INT_COLUMNS = frozenset({"width", "height", "frame", "face", "track_id", "x", "y", "w", "h"})
STR_COLUMNS = frozenset({"path", "status", "error", "notes", "annotated", "label", "sentiment"})
#: notes are one string in flat rows
NOTES_SEPARATOR = "; "


@dataclass
class Face:
    """One face: ``box`` [x, y, w, h] in pixels of the input as displayed, detector ``score``,
    ``emotions`` {class: probability} summing to 1, ``label`` (the most probable class),
    ``sentiment`` (the label's sentiment), ``sentiment_scores`` (class probabilities summed per
    sentiment), ``landmarks`` ([[x, y], ...] or None); in videos and streams also ``track_id`` and
    ``emotions_raw`` (the frame's own probabilities when ``emotions`` is smoothed)."""

    box: list[int]
    score: float
    emotions: dict[str, float]
    label: str
    sentiment: str
    sentiment_scores: dict[str, float]
    landmarks: list[list[float]] | None = None
    track_id: int | None = None
    emotions_raw: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; the video fields only when they are set."""
        d = asdict(self)
        for key in ("track_id", "emotions_raw"):
            if d[key] is None:
                del d[key]
        return d


class _FacesMixin:
    """Results hold a list of faces and behave like it (``len``, iteration, indexing)."""

    faces: list[Face]
    classes: tuple[str, ...]
    kind: str

    def __len__(self) -> int:
        return len(self.faces)

    def __iter__(self) -> Iterator[Face]:
        return iter(self.faces)

    def __getitem__(self, i: int) -> Face:
        return self.faces[i]

    def to_pandas(self):
        """A pandas DataFrame, one row per face (``pip install ferkit[pandas]``)."""
        return to_pandas([self.to_dict()], self.kind, self.classes)


@dataclass
class ImageResult(_FacesMixin):
    """Every face of one image, left to right, with how the image was read."""

    path: str | None
    width: int | None
    height: int | None
    faces: list[Face] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    annotated: str | None = None
    classes: tuple[str, ...] = ()
    kind = "image"

    @property
    def status(self) -> str:
        if self.error is not None and self.width is None:
            return "error"
        return "ok" if self.faces else "no_face"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "width": self.width, "height": self.height, "status": self.status,
                "error": self.error, "notes": list(self.notes), "annotated": self.annotated,
                "faces": [f.to_dict() for f in self.faces]}

    @classmethod
    def failed(cls, path, error: str, classes: Sequence[str] = ()) -> ImageResult:
        """The result of an input that could not be read."""
        return cls(None if path is None else str(path), None, None, [], error, classes=tuple(classes))


@dataclass
class FrameResult(_FacesMixin):
    """The tracked faces of one video or stream frame."""

    frame: int
    time_s: float
    faces: list[Face] = field(default_factory=list)
    classes: tuple[str, ...] = ()
    kind = "frame"

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame, "time_s": self.time_s, "faces": [f.to_dict() for f in self.faces]}


def record_kind(record: dict[str, Any]) -> str:
    if "frame" in record:
        return "frame"
    if "path" in record:
        return "image"
    raise InputError(f"not a ferkit result record (no 'path' or 'frame' field): {sorted(record)[:8]}")


def columns(kind: str, classes: Sequence[str], raw: bool | None = None) -> list[str]:
    """Flat columns of a kind for a model's classes; ``raw`` adds the unsmoothed ``raw_<class>``
    columns (default: for frames)."""
    raw = kind == "frame" if raw is None else raw
    face_cols = ["face", "track_id", "x", "y", "w", "h", "score", *classes, "label", "sentiment",
                 *(f"sentiment_{s}" for s in SENTIMENTS)]
    return [*RECORD_FIELDS[kind], *face_cols, *(f"raw_{c}" for c in classes if raw)]


def record_rows(record: dict[str, Any], kind: str, classes: Sequence[str]) -> list[dict[str, Any]]:
    """Flat rows of one record: one per face, or one with empty face columns when it has none."""
    base = {k: record.get(k) for k in RECORD_FIELDS[kind]}
    if kind == "image":
        base["notes"] = NOTES_SEPARATOR.join(record.get("notes") or []) or None
    rows = []
    for i, face in enumerate(record.get("faces") or []):
        row = dict(base)
        row["face"] = i
        row["track_id"] = face.get("track_id")
        row.update(zip(("x", "y", "w", "h"), face["box"]))
        row["score"] = face["score"]
        row.update({c: face["emotions"].get(c) for c in classes})
        row["label"], row["sentiment"] = face["label"], face["sentiment"]
        row.update({f"sentiment_{k}": v for k, v in face["sentiment_scores"].items()})
        if face.get("emotions_raw"):
            row.update({f"raw_{c}": face["emotions_raw"].get(c) for c in classes})
        rows.append(row)
    return rows or [base]


def _value(v: Any, column: str) -> Any:
    if v is None or v == "" or (isinstance(v, float) and v != v):  # empty, or NaN from pandas/Parquet
        return None
    if column in INT_COLUMNS:
        return int(float(v))
    if column in STR_COLUMNS:
        return str(v)
    return float(v)


def classes_of_columns(cols: Sequence[str]) -> tuple[str, ...]:
    """The classes of a flat table: the columns between ``score`` and ``label``."""
    cols = list(cols)
    try:
        return tuple(cols[cols.index("score") + 1 : cols.index("label")])
    except ValueError:
        raise InputError("not a ferkit results table: it needs the columns score ... label") from None


def rows_to_records(rows: Iterable[dict[str, Any]], kind: str, classes: Sequence[str]) -> list[dict[str, Any]]:
    """Group flat rows back into records (consecutive rows of one image or frame)."""
    key_field = "path" if kind == "image" else "frame"
    records: list[dict[str, Any]] = []
    for row in rows:
        base = {k: _value(row.get(k), k) for k in RECORD_FIELDS[kind]}
        if kind == "image":
            base["notes"] = base["notes"].split(NOTES_SEPARATOR) if base["notes"] else []
        face_index = _value(row.get("face"), "face")
        # a record starts with its first face (0), or is a row of its own when it has none
        if not records or face_index in (None, 0) or records[-1][key_field] != base[key_field]:
            records.append({**base, "faces": []})
        if face_index is None:
            continue
        face = {
            "box": [_value(row.get(k), k) for k in ("x", "y", "w", "h")],
            "score": _value(row.get("score"), "score"),
            "emotions": {c: _value(row.get(c), c) for c in classes},
            "label": _value(row.get("label"), "label"),
            "sentiment": _value(row.get("sentiment"), "sentiment"),
            "sentiment_scores": {s: _value(row.get(f"sentiment_{s}"), "s") for s in SENTIMENTS},
            "landmarks": None,
        }
        track = _value(row.get("track_id"), "track_id")
        if track is not None:
            face["track_id"] = track
        if _value(row.get(f"raw_{classes[0]}"), "raw") is not None:
            face["emotions_raw"] = {c: _value(row.get(f"raw_{c}"), c) for c in classes}
        records[-1]["faces"].append(face)
    if kind == "image":
        for r in records:
            r["status"] = r["status"] or ("ok" if r["faces"] else "no_face")
    return records


def to_pandas(records: Iterable[dict[str, Any]], kind: str | None = None, classes: Sequence[str] | None = None):
    """Records as a pandas DataFrame, one row per face (records without faces: one row with empty
    face columns). Needs pandas: ``pip install ferkit[pandas]``."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("to_pandas() needs pandas: pip install ferkit[pandas]") from exc
    records = list(records)
    if kind is None:
        kind = record_kind(records[0]) if records else "image"
    if classes is None:
        classes = _classes_of_records(records)
    raw = any(f.get("emotions_raw") for r in records for f in r.get("faces") or [])
    rows = [row for r in records for row in record_rows(r, kind, classes)]
    frame = pd.DataFrame(rows, columns=columns(kind, classes, raw))
    for col in INT_COLUMNS & set(frame.columns):
        frame[col] = frame[col].astype("Int64")
    return frame


def _classes_of_records(records: list[dict[str, Any]]) -> tuple[str, ...]:
    for r in records:
        for f in r.get("faces") or []:
            return tuple(f["emotions"])
    return EMOTIONS
