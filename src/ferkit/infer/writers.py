"""Writing analysis records as JSON, JSON Lines or CSV (one row per face).

JSON Lines and CSV are written record by record, so an interrupted run keeps what it did; JSON is
a single list, written (atomically) when the writer closes."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from ferkit.core.labels import EMOTIONS, SENTIMENTS

FORMATS = {".json": "json", ".jsonl": "jsonl", ".csv": "csv"}
RECORD_FIELDS = ["path", "width", "height", "status", "error"]
FACE_FIELDS = ["face", "x", "y", "w", "h", "score", *EMOTIONS, "label", "sentiment", *(f"sentiment_{s}" for s in SENTIMENTS)]


def output_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: output must end in {', '.join(FORMATS)}")
    return FORMATS[suffix]


def face_rows(record: dict[str, Any], record_fields: list[str] = RECORD_FIELDS) -> list[dict[str, Any]]:
    """CSV rows of one record: one per face, or one with empty face columns when it has none."""
    base = {k: record.get(k) for k in record_fields}
    if not record.get("faces"):
        return [base]
    rows = []
    for i, face in enumerate(record["faces"]):
        row = dict(base)
        row["face"] = face.get("track_id", i)
        row.update(zip(("x", "y", "w", "h"), face["box"]))
        row["score"] = face["score"]
        row.update(face["emotions"])
        row["label"], row["sentiment"] = face["label"], face["sentiment"]
        row.update({f"sentiment_{k}": v for k, v in face["sentiment_scores"].items()})
        rows.append(row)
    return rows


class ResultWriter:
    """``write(record)`` then ``close()`` (or use it as a context manager). An existing file is
    an error unless ``overwrite``; ``append`` continues one (JSON Lines and CSV only)."""

    def __init__(self, path: str | Path, overwrite: bool = False, append: bool = False,
                 record_fields: list[str] = RECORD_FIELDS):
        self.path = Path(path)
        self.format = output_format(self.path)
        if self.path.exists() and not (overwrite or append):
            raise FileExistsError(f"{self.path}: exists; use --overwrite to replace it")
        if append and self.format == "json":
            raise ValueError("appending needs a .jsonl or .csv output")
        self.record_fields = record_fields
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: list[dict[str, Any]] = []
        self._file = None
        self._csv = None
        if self.format != "json":
            appending = append and self.path.exists() and self.path.stat().st_size > 0
            self._file = open(self.path, "a" if appending else "w", newline="", encoding="utf-8")
            if self.format == "csv":
                fields = record_fields + [f for f in FACE_FIELDS if f not in record_fields]
                self._csv = csv.DictWriter(self._file, fieldnames=fields, extrasaction="ignore")
                if not appending:
                    self._csv.writeheader()

    def write(self, record: dict[str, Any]) -> None:
        if self.format == "json":
            self.records.append(record)
        elif self.format == "jsonl":
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        else:
            self._csv.writerows(face_rows(record, self.record_fields))
            self._file.flush()

    def close(self) -> None:
        if self.format == "json":
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self.records, indent=1))
            os.replace(tmp, self.path)
        elif self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
