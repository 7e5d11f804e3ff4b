"""Per-frame video results as rows, written as they are produced (JSON Lines, CSV or Parquet), and
read back to resume an interrupted run."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from ferkit.core.labels import EMOTIONS, SENTIMENTS

FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
FLAT_COLUMNS = (
    ["frame", "time_s", "track_id", "x", "y", "w", "h", "score", *EMOTIONS, "label", "sentiment"]
    + [f"sentiment_{s}" for s in SENTIMENTS] + [f"raw_{e}" for e in EMOTIONS]
)


def frame_rows(frame: int, time_s: float, faces: list[dict]) -> list[dict[str, Any]]:
    """One row per face (``track_id`` etc.), or one row with only frame and time when no face."""
    if not faces:
        return [{"frame": frame, "time_s": time_s, "track_id": None}]
    rows = []
    for f in faces:
        row = {"frame": frame, "time_s": time_s, "track_id": f.get("track_id"), "box": f["box"], "score": f["score"],
               "emotions": f["emotions"], "label": f["label"], "sentiment": f["sentiment"],
               "sentiment_scores": f["sentiment_scores"]}
        if f.get("emotions_raw") is not None:
            row["emotions_raw"] = f["emotions_raw"]
        rows.append(row)
    return rows


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: row.get(k) for k in ("frame", "time_s", "track_id", "score", "label", "sentiment")}
    if row.get("box") is not None:
        flat.update(zip("xywh", row["box"]))
    flat.update(row.get("emotions") or {})
    flat.update({f"sentiment_{k}": v for k, v in (row.get("sentiment_scores") or {}).items()})
    flat.update({f"raw_{k}": v for k, v in (row.get("emotions_raw") or {}).items()})
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    def num(v, kind=float):
        return None if v in (None, "") else kind(float(v))

    row = {"frame": num(flat["frame"], int), "time_s": num(flat["time_s"]), "track_id": num(flat.get("track_id"), int)}
    if row["track_id"] is None:
        return row
    row["box"] = [num(flat[k], int) for k in "xywh"]
    row["score"] = num(flat.get("score"))
    row["emotions"] = {e: num(flat[e]) for e in EMOTIONS}
    row["label"], row["sentiment"] = flat["label"], flat["sentiment"]
    row["sentiment_scores"] = {s: num(flat[f"sentiment_{s}"]) for s in SENTIMENTS}
    if flat.get(f"raw_{EMOTIONS[0]}") not in (None, ""):
        row["emotions_raw"] = {e: num(flat[f"raw_{e}"]) for e in EMOTIONS}
    return row


def rows_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: per-frame results must end in {', '.join(FORMATS)}")
    return FORMATS[suffix]


def _drop_partial_last_line(path: Path) -> None:
    """An interrupted write can leave half a line; cut the file back to its last newline."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a results file written by ``FrameRowWriter`` (an incomplete last line is ignored)."""
    path = Path(path)
    fmt = rows_format(path)
    if fmt == "jsonl":
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return rows
    if fmt == "csv":
        text = path.read_text()
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        return [unflatten(r) for r in csv.DictReader(text.splitlines())]
    import pyarrow.parquet as pq

    return [unflatten(r) for r in pq.read_table(path).to_pylist()]


class FrameRowWriter:
    """Appends rows as they come. ``resume``: keep the rows already in the file and add to them;
    otherwise an existing file is an error unless ``overwrite``. Parquet needs pyarrow
    (``pip install ferkit[parquet]``) and is written in row groups, into a temporary file that
    replaces the output on ``close()``."""

    def __init__(self, path: str | Path, overwrite: bool = False, resume: bool = False, group_rows: int = 2000):
        self.path = Path(path)
        self.format = rows_format(self.path)
        if self.path.exists() and not (overwrite or resume):
            raise FileExistsError(f"{self.path}: exists; use --overwrite to replace it or --resume to continue it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        continuing = resume and self.path.exists() and self.path.stat().st_size > 0
        self._pending: list[dict] = []
        self.group_rows = group_rows
        if self.format == "parquet":
            self._open_parquet(read_rows(self.path) if continuing else [])
            return
        if continuing:
            _drop_partial_last_line(self.path)
        self._file = open(self.path, "a" if continuing else "w", newline="", encoding="utf-8")
        if self.format == "csv":
            self._csv = csv.DictWriter(self._file, fieldnames=FLAT_COLUMNS, extrasaction="ignore")
            if not continuing:
                self._csv.writeheader()

    def _open_parquet(self, old_rows: list[dict]) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError("Parquet output needs pyarrow: pip install ferkit[parquet]") from exc
        fields = [(c, pa.int64() if c in ("frame", "track_id", "x", "y", "w", "h")
                   else pa.string() if c in ("label", "sentiment") else pa.float64()) for c in FLAT_COLUMNS]
        self._schema = pa.schema(fields)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._parquet = pq.ParquetWriter(self._tmp, self._schema)
        self._pending = [flatten(r) for r in old_rows]
        self._flush_parquet()

    def _flush_parquet(self) -> None:
        if self._pending:
            import pyarrow as pa

            cols = {c: [r.get(c) for r in self._pending] for c in FLAT_COLUMNS}
            self._parquet.write_table(pa.table(cols, schema=self._schema))
            self._pending = []

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self.format == "jsonl":
            self._file.write("".join(json.dumps(r) + "\n" for r in rows))
            self._file.flush()
        elif self.format == "csv":
            self._csv.writerows(flatten(r) for r in rows)
            self._file.flush()
        else:
            self._pending.extend(flatten(r) for r in rows)
            if len(self._pending) >= self.group_rows:
                self._flush_parquet()

    def close(self) -> None:
        if self.format == "parquet":
            if self._parquet is not None:
                self._flush_parquet()
                self._parquet.close()
                self._parquet = None
                os.replace(self._tmp, self.path)
        elif not self._file.closed:
            self._file.close()

    def __enter__(self) -> FrameRowWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
