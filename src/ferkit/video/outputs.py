"""Where one video's or stream's results go, and the checks made before any frame is read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ferkit.core.errors import OptionError, OutputError, OutputExistsError
from ferkit.core.outputs import check_writable
from ferkit.core.video_file import VIDEO_SUFFIXES
from ferkit.infer.tables import format_of
from ferkit.video.writer import CODECS

ROW_FORMATS = ("jsonl", "csv", "parquet", "json")


@dataclass
class VideoOutputs:
    """Paths of one source's outputs; None: not written. ``rows``: a record per frame (.jsonl, .json,
    .csv or .parquet); ``summary``: JSON; ``timeline``: PNG; ``annotated``: a video file."""

    rows: Path | None = None
    summary: Path | None = None
    timeline: Path | None = None
    annotated: Path | None = None

    @classmethod
    def in_folder(cls, folder: str | Path, stem: str, fmt: str = "jsonl", annotated: str | Path | None = None
                  ) -> VideoOutputs:
        """``FOLDER/STEM.frames.FMT``, ``STEM.summary.json`` and ``STEM.timeline.png``."""
        folder = Path(folder)
        return cls(folder / f"{stem}.frames.{fmt}", folder / f"{stem}.summary.json", folder / f"{stem}.timeline.png",
                   Path(annotated) if annotated else None)

    @classmethod
    def beside(cls, rows: str | Path, annotated: str | Path | None = None) -> VideoOutputs:
        """Summary and timeline next to the rows file: x.jsonl -> x.summary.json, x.timeline.png."""
        rows = Path(rows)
        base = rows.with_suffix("")
        return cls(rows, base.with_name(base.name + ".summary.json"), base.with_name(base.name + ".timeline.png"),
                   Path(annotated) if annotated else None)

    def paths(self) -> list[Path]:
        return [p for p in (self.rows, self.summary, self.timeline, self.annotated) if p is not None]

    @property
    def state(self) -> Path | None:
        """The resume state beside the rows, kept while a run is unfinished."""
        return None if self.rows is None else self.rows.with_name(self.rows.name + ".resume.json")

    def check(self, source: Path | None, overwrite: bool, resume: bool, inputs=()) -> None:
        """Before any work: no output is the input, formats are known, existing outputs are kept
        unless ``overwrite`` (with ``resume`` the rows, summary and timeline continue), and every
        place can be written."""
        if self.rows is not None:
            format_of(self.rows, ROW_FORMATS)
        paths = [p.resolve() for p in self.paths()]
        if len(set(paths)) < len(paths):
            raise OptionError(f"two outputs would be the same file: {', '.join(map(str, self.paths()))}")
        if self.annotated is not None and self.annotated.suffix.lower() not in CODECS:
            raise OptionError(f"{self.annotated}: an annotated video must end in {', '.join(sorted(CODECS))}")
        for p in self.paths():
            if source is not None and p.resolve() == source.resolve():
                raise OutputExistsError(f"{p}: an output may not be the input")
        for p in self.paths():
            if resume and p == self.annotated:
                continue  # a resumed run writes the rest of the video beside it (NAME.from-frame-N.mp4)
            check_writable(p, overwrite=overwrite, resume=resume, inputs=inputs)


def plan_outputs(sources: list[str], out: str | None = None, out_dir: str | None = None, annotate: str | None = None,
                 fmt: str | None = None, alone: bool = True) -> list[VideoOutputs]:
    """Outputs per source: in ``out_dir``; or beside ``out`` for a single source (``alone``: no
    images in the same run); else none (the summary is printed). ``annotate``: a video file for one
    source, or a folder (``NAME.annotated.mp4`` per source)."""
    single_file = annotate is not None and Path(annotate).suffix.lower() in VIDEO_SUFFIXES
    if single_file and len(sources) != 1:
        raise OptionError("--annotate FILE.mp4 takes one video; give a folder for several")
    if annotate is not None and not single_file and Path(annotate).suffix and not Path(annotate).is_dir():
        raise OptionError(f"--annotate {annotate}: for videos give a video file ({', '.join(sorted(CODECS))}) "
                          "or a folder")
    if out and fmt and format_of(out, ROW_FORMATS).name != fmt:
        raise OptionError(f"--format {fmt} does not match --out {out}: the suffix of --out says the format")
    fmt = fmt or "jsonl"
    if annotate is not None and not single_file and Path(annotate).is_file():
        raise OutputError(f"{annotate}: --annotate needs a video file name or a folder, and this is a file")
    plans, used = [], set()
    for source in sources:
        base = Path(source).stem if not str(source).isdigit() else f"camera{source}"
        stem, n = base, 2
        while stem in used:
            stem, n = f"{base}_{n}", n + 1
        used.add(stem)
        annotated = Path(annotate) if single_file else (Path(annotate) / f"{stem}.annotated.mp4" if annotate else None)
        if out_dir:
            plans.append(VideoOutputs.in_folder(out_dir, stem, fmt, annotated))
        elif out and alone and len(sources) == 1:
            plans.append(VideoOutputs.beside(out, annotated))
        elif out:
            raise OptionError("with several videos, or videos and images together, put video results in --out-dir")
        else:
            plans.append(VideoOutputs(annotated=annotated))
    return plans
