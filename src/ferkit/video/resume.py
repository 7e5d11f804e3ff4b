"""Resuming an interrupted video run exactly.

While a run is unfinished, a state file beside its rows (``ROWS.resume.json``) holds the input's
content fingerprint, the options that shape the results, how much of the rows file is complete and
the stream's tracking and smoothing state. ``--resume`` checks the fingerprint and the options
(another video, or changed ``--fps``/``--smooth``/``--tta``... is refused, never mixed in), cuts the
rows back to the saved point and continues from the next frame with the saved state, so the result
equals an uninterrupted run. The file is removed when the run completes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ferkit.core.errors import ResumeError

VERSION = 1
#: options that do not change results
NEUTRAL_OPTIONS = ("threads",)
_CHUNK = 1 << 20


def file_fingerprint(path: str | Path) -> dict[str, Any]:
    """Size and SHA-256 of the first and last MiB: tells files apart without reading all of a long video."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        digest.update(fh.read(_CHUNK))
        if size > 2 * _CHUNK:
            fh.seek(size - _CHUNK)
        digest.update(fh.read(_CHUNK))
    return {"size": size, "sha256_head_tail": digest.hexdigest()}


def results_options(recognizer, video_options) -> dict[str, Any]:
    """What determines a run's results: the model file's content, the recognizer's and the video's
    options (less those that change speed only) and the classes."""
    rec = recognizer.options.to_dict()
    for key in NEUTRAL_OPTIONS:
        rec.pop(key, None)
    rec["model"] = file_fingerprint(recognizer.options.model_path)
    options = {"recognizer": rec, "video": video_options.to_dict(), "classes": list(recognizer.classes)}
    return json.loads(json.dumps(options))  # as saved: tuples become lists


def _describe_difference(saved: dict, now: dict, prefix: str = "") -> list[str]:
    diffs = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key != "model":
            diffs += _describe_difference(a, b, f"{prefix}{key}.")
        elif a != b:
            diffs.append(f"{prefix}{key}: {a!r} then, {b!r} now" if key != "model" else f"{prefix}model file differs")
    return diffs


class ResumeState:
    """Read, check and write one run's resume state."""

    def __init__(self, path: Path, source: dict[str, Any], options: dict[str, Any]):
        self.path, self.source, self.options = Path(path), source, options

    def load(self) -> dict[str, Any]:
        """The saved state, after checking it belongs to this input and these options."""
        try:
            state = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ResumeError(f"{self.path}: unreadable resume state ({exc}); use --overwrite to start again") from None
        if not isinstance(state, dict) or state.get("version") != VERSION:
            raise ResumeError(f"{self.path}: resume state of another ferkit version; use --overwrite to start again")
        missing = {"source", "options", "frames_done", "records", "rows_bytes", "stream"} - set(state)
        if missing:
            raise ResumeError(f"{self.path}: damaged resume state (no {', '.join(sorted(missing))}); "
                              "use --overwrite to start again")
        self.check(state.get("source"), state.get("options"), self.path)
        return state

    def check(self, source: dict | None, options: dict | None, where: Path) -> None:
        """Refuse results of another input, or made with other options."""
        if source != self.source:
            then = (source or {}).get("name", "unknown")
            raise ResumeError(f"{where}: these results are of another input (content differs: "
                              f"{then} then, {self.source.get('name')} now); "
                              "use --overwrite to start again or give another --out")
        if options != self.options:
            diffs = "; ".join(_describe_difference(options or {}, self.options))
            raise ResumeError(f"{where}: options changed since that run ({diffs}); resume with "
                              "the same options, or use --overwrite to start again")

    def save(self, frames_done: int, records: int, rows_bytes: int | None, stream_state: dict[str, Any]) -> None:
        state = {"version": VERSION, "source": self.source, "options": self.options, "frames_done": frames_done,
                 "records": records, "rows_bytes": rows_bytes, "stream": stream_state}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
