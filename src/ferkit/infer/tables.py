"""The one table of result formats, each with a writer and a reader (the reader is what ``--resume``
uses): ``json`` (a list of records), ``jsonl`` (a record per line), ``csv`` and ``parquet`` (a row
per face, see :mod:`ferkit.infer.results`).

Writers write as results come: JSON Lines and CSV line by line (flushed, so an interrupted run keeps
what it did) and JSON as a growing list closed on ``close()``, into the final file; Parquet in row
groups into ``NAME.parquet.tmp``, which replaces the output on ``close()``. None holds all results in
memory until the end. An existing file is refused
unless ``overwrite``, or continued with ``resume``."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferkit.core.errors import InputError, MissingInputError, OptionError, OutputError
from ferkit.core.outputs import check_writable
from ferkit.infer.results import (
    INT_COLUMNS,
    STR_COLUMNS,
    classes_of_columns,
    columns,
    record_kind,
    record_rows,
    rows_to_records,
    to_pandas,
)


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    #: rows (one per face) rather than records (one per image or frame)
    flat: bool
    #: needs this optional package
    requires: str | None = None


FORMATS: dict[str, Format] = {
    "json": Format("json", ".json", flat=False),
    "jsonl": Format("jsonl", ".jsonl", flat=False),
    "csv": Format("csv", ".csv", flat=True),
    "parquet": Format("parquet", ".parquet", flat=True, requires="pyarrow"),
}


def format_of(path: str | Path, allowed: tuple[str, ...] = tuple(FORMATS)) -> Format:
    """The format of an output path by its suffix."""
    suffix = Path(path).suffix.lower()
    for name in allowed:
        if FORMATS[name].suffix == suffix:
            return FORMATS[name]
    raise OptionError(f"{path}: results must end in {', '.join(FORMATS[n].suffix for n in allowed)}")


class ResultWriter:
    """``write(record)`` for each image or frame record, then ``close()`` (or use ``with``).

    ``kind``: "image" or "frame"; ``classes``: the model's classes (the emotion columns).
    ``resume``: keep what the file holds and add to it (JSON Lines and CSV: after cutting a
    half-written last line, or back to ``keep_bytes``; JSON and Parquet: the old records, or their
    first ``keep_records``, are copied into the new file)."""

    def __init__(self, path: str | Path, kind: str, classes, overwrite: bool = False, resume: bool = False,
                 keep_bytes: int | None = None, keep_records: int | None = None, group_rows: int = 2000):
        self.path = check_writable(path, overwrite, resume)
        self.format = format_of(self.path)
        self.kind, self.classes = kind, tuple(classes)
        self.columns = columns(kind, self.classes)
        self.group_rows = group_rows
        continuing = resume and self.path.exists() and self.path.stat().st_size > 0
        self._pending: list[dict] = []
        self._count = 0
        if self.format.name in ("parquet", "json"):
            old = read_records(self.path)[:keep_records] if continuing else []
            (self._open_parquet if self.format.name == "parquet" else self._open_json)(old)
            return
        if continuing:
            if self.format.name == "csv":
                self._check_csv_header()  # before cutting anything
            _cut_file(self.path, keep_bytes)
        self._file = _open(self.path, "a" if continuing else "w")
        if self.format.name == "csv":
            self._csv = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
            if not continuing:
                self._csv.writeheader()

    def _check_csv_header(self) -> None:
        with open(self.path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        if header != self.columns:
            raise InputError(f"{self.path}: its columns are not those of this model's results; cannot continue it")

    def _open_json(self, old: list[dict]) -> None:
        self._file = _open(self.path, "w")
        self._file.write("[")
        for record in old:
            self._write_json(record)

    def _write_json(self, record: dict) -> None:
        self._file.write(("\n" if self._count == 0 else ",\n") + json.dumps(record))
        self._count += 1
        self._file.flush()

    def _open_parquet(self, old: list[dict]) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise OptionError("Parquet output needs pyarrow: pip install ferkit[parquet]") from exc
        fields = [(c, pa.int64() if c in INT_COLUMNS else pa.string() if c in STR_COLUMNS else pa.float64())
                  for c in self.columns]
        self._schema = pa.schema(fields)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        self._parquet = pq.ParquetWriter(self._tmp, self._schema)
        for record in old:
            self._pending.extend(record_rows(record, self.kind, self.classes))
        self._flush_parquet()

    def _flush_parquet(self) -> None:
        if self._pending:
            import pyarrow as pa

            cols = {c: [r.get(c) for r in self._pending] for c in self.columns}
            self._parquet.write_table(pa.table(cols, schema=self._schema))
            self._pending = []

    def write(self, record: dict[str, Any]) -> None:
        name = self.format.name
        if name == "json":
            self._write_json(record)
        elif name == "jsonl":
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        elif name == "csv":
            self._csv.writerows(record_rows(record, self.kind, self.classes))
            self._file.flush()
        else:
            self._pending.extend(record_rows(record, self.kind, self.classes))
            if len(self._pending) >= self.group_rows:
                self._flush_parquet()

    def tell(self) -> int | None:
        """Bytes written so far (JSON Lines and CSV), for a resume point."""
        if self.format.name in ("jsonl", "csv") and not self._file.closed:
            return self._file.tell()
        return None

    def close(self) -> None:
        if self.format.name == "parquet":
            if self._parquet is not None:
                self._flush_parquet()
                self._parquet.close()
                self._parquet = None
                os.replace(self._tmp, self.path)
        elif not self._file.closed:
            if self.format.name == "json":
                self._file.write("\n]\n" if self._count else "]\n")
            self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open(path: Path, mode: str):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, mode, newline="", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{path}: cannot be written ({exc.strerror or exc})") from None


def _cut_file(path: Path, keep_bytes: int | None) -> None:
    """Cut back to ``keep_bytes``, or else to the last complete line."""
    size = path.stat().st_size
    if keep_bytes is None:
        with open(path, "rb") as fh:
            data = fh.read()
        keep_bytes = data.rfind(b"\n") + 1 if data and not data.endswith(b"\n") else size
    if keep_bytes > size:
        raise InputError(f"{path}: shorter than its resume state says ({size} < {keep_bytes} bytes)")
    if keep_bytes < size:
        with open(path, "r+b") as fh:
            fh.truncate(keep_bytes)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Records (images or frames, faces nested) from any result file ferkit writes. A half-written
    last line (an interrupted JSON Lines or CSV file) is left out; an unclosed JSON list is read up
    to its last complete record."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such file")
    fmt = format_of(path).name
    if fmt == "jsonl":
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return _check_records(records, path)
    if fmt == "json":
        text = path.read_text(encoding="utf-8").strip()
        try:
            return _check_records(json.loads(text), path)
        except json.JSONDecodeError:
            lines = [ln.rstrip(",") for ln in text.splitlines()[1:] if ln not in ("]",)]
            records = []
            for ln in lines:
                try:
                    records.append(json.loads(ln))
                except json.JSONDecodeError:
                    break
            return _check_records(records, path)
    if fmt == "csv":
        text = path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        reader = csv.DictReader(text.splitlines())
        cols = reader.fieldnames or []
        rows = list(reader)
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        cols, rows = table.column_names, table.to_pylist()
    kind = "frame" if "frame" in cols else "image"
    return rows_to_records(rows, kind, classes_of_columns(cols))


def _check_records(records, path: Path) -> list[dict[str, Any]]:
    if not isinstance(records, list) or not all(isinstance(r, dict) and ("path" in r or "frame" in r)
                                                 for r in records):
        raise InputError(f"{path}: not a ferkit results file (records of images or frames)")
    return records


def read_results(path: str | Path):
    """A result file as a pandas DataFrame, one row per face."""
    records = read_records(path)
    return to_pandas(records, record_kind(records[0]) if records else None)
