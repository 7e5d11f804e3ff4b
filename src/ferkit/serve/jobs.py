"""Video jobs of the web app: an uploaded video analysed in the background by ``ferkit.video.analyze_source``
(the same loop as ``ferkit analyze VIDEO``), a bounded number at once, with progress; when done, the summary,
the timeline PNG, the per-frame rows (CSV and JSONL) and the annotated video to download. Finished jobs and
their files are deleted after a set time."""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferkit.core.errors import FerkitError
from ferkit.infer.recognizer import Recognizer
from ferkit.infer.tables import ResultWriter, read_records
from ferkit.video.loop import analyze_source
from ferkit.video.outputs import VideoOutputs

log = logging.getLogger("ferkit.serve")

#: what a finished job offers for download: name -> (file in the job folder, media type)
DOWNLOADS = {
    "summary.json": ("summary.json", "application/json"),
    "timeline.png": ("timeline.png", "image/png"),
    "rows.csv": ("rows.csv", "text/csv"),
    "rows.jsonl": ("rows.jsonl", "application/x-ndjson"),
    "annotated.mp4": ("annotated.mp4", "video/mp4"),
}


class QueueFull(Exception):
    """More video jobs than the server takes at once (running and waiting)."""


@dataclass
class Job:
    id: str
    name: str
    folder: Path
    video: Path
    state: str = "queued"  # queued | running | done | failed | cancelled
    frames_done: int = 0
    frames_expected: int | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    summary: dict[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def progress(self) -> float:
        if self.state == "done":
            return 1.0
        if not self.frames_expected:
            return 0.0
        return min(1.0, self.frames_done / self.frames_expected)

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "name": self.name, "state": self.state, "progress": round(self.progress, 4),
             "frames_done": self.frames_done, "frames_expected": self.frames_expected, "error": self.error}
        if self.state == "done":
            d["summary"] = self.summary
            d["downloads"] = {name: f"/api/jobs/{self.id}/files/{name}" for name, (file, _) in DOWNLOADS.items()
                              if (self.folder / file).exists()}
        return d


class VideoJobs:
    """The job table and its worker threads."""

    def __init__(self, recognizer: Recognizer, work_dir: Path, max_jobs: int, max_queued: int, ttl_s: float):
        self.recognizer = recognizer
        self.work_dir = Path(work_dir)
        self.max_jobs, self.max_queued, self.ttl_s = max_jobs, max_queued, ttl_s
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=max_jobs, thread_name_prefix="ferkit-video")

    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its folder (ids are random: a client never names a path)."""
        job_id = uuid.uuid4().hex
        folder = self.work_dir / "jobs" / job_id
        folder.mkdir(parents=True)
        return job_id, folder

    def active(self) -> int:
        return sum(j.state in ("queued", "running") for j in self.jobs.values())

    def submit(self, job_id: str, folder: Path, video: Path, name: str) -> Job:
        with self.lock:
            if self.active() >= self.max_jobs + self.max_queued:
                raise QueueFull(f"{self.active()} videos are being analysed or waiting; try again later")
            job = Job(job_id, name, folder, video)
            self.jobs[job_id] = job
        self.pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def _run(self, job: Job) -> None:
        if job.cancel.is_set():
            job.state = "cancelled"
            return
        job.state = "running"
        outputs = VideoOutputs(job.folder / "rows.jsonl", job.folder / "summary.json", job.folder / "timeline.png",
                               job.folder / "annotated.mp4")

        def on_progress(done: int, expected: int | None) -> bool:
            job.frames_done, job.frames_expected = done, expected
            return job.cancel.is_set()

        try:
            summary = analyze_source(self.recognizer, str(job.video), outputs, progress=False, resumable=False,
                                     on_progress=on_progress)
            self._write_csv(outputs.rows, job.folder / "rows.csv")
            job.summary = {k: summary.get(k) for k in ("duration_s", "frames_sampled", "frames_with_faces", "tracks",
                                                       "main_track", "overall", "complete")}
            job.state = "cancelled" if job.cancel.is_set() else "done"
        except FerkitError as exc:
            job.state, job.error = "failed", str(exc).replace(str(job.video), job.name)
        except Exception as exc:  # a job never takes the server down; the reason goes to the client and the log
            log.exception("video job %s failed", job.id)
            job.state, job.error = "failed", f"the video could not be analysed ({type(exc).__name__})"
        finally:
            job.finished = time.time()
            job.video.unlink(missing_ok=True)  # the upload is not kept once analysed

    def _write_csv(self, jsonl: Path, csv_path: Path) -> None:
        with ResultWriter(csv_path, "frame", self.recognizer.classes) as writer:
            for record in read_records(jsonl):
                writer.write(record)

    def cleanup(self, now: float | None = None) -> int:
        """Delete finished jobs older than the time to live; returns how many."""
        now = time.time() if now is None else now
        with self.lock:
            old = [j for j in self.jobs.values() if j.finished is not None and now - j.finished > self.ttl_s]
            for job in old:
                del self.jobs[job.id]
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)
        return len(old)

    def shutdown(self) -> None:
        for job in self.jobs.values():
            job.cancel.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
