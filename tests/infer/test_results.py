"""The one results schema and its table of formats: every format writes and reads back the same
records, for images and frames, with the model's own classes."""

import csv
import json

import pytest

from ferkit.core.errors import InputError, OptionError, OutputError, OutputExistsError
from ferkit.core.labels import CKPLUS_CLASSES, EMOTIONS
from ferkit.core.outputs import check_writable
from ferkit.infer.results import Face, FrameResult, ImageResult, columns, to_pandas
from ferkit.infer.tables import FORMATS, ResultWriter, read_records


def face(classes, i=0, track=None, raw=False):
    p = 1.0 / len(classes)
    emotions = {c: p for c in classes}
    f = Face([10 + i, 20, 30, 30], 0.875, emotions, classes[-1], "negative",
             {"negative": 0.5, "neutral": 0.25, "positive": 0.25}, None, track,
             {c: p for c in classes} if raw else None)
    return f


def image_records(classes):
    return [
        ImageResult("a.png", 64, 48, [face(classes), face(classes, 1)], notes=["EXIF orientation 6 applied"],
                    classes=classes).to_dict(),
        ImageResult("b.png", 64, 48, [], classes=classes).to_dict(),
        ImageResult.failed("c.png", "c.png: not a readable image", classes).to_dict(),
    ]


def frame_records(classes):
    return [FrameResult(0, 0.0, [face(classes, 0, 0, True), face(classes, 1, 1, True)], classes).to_dict(),
            FrameResult(3, 0.1, [], classes).to_dict(),
            FrameResult(6, 0.2, [face(classes, 2, 1, True)], classes).to_dict()]


def comparable(records):
    """Flat formats carry no landmarks; everything else must survive the round trip."""
    return [{**r, "faces": [{**f, "landmarks": None} for f in r["faces"]]} for r in records]


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("classes", [EMOTIONS, CKPLUS_CLASSES], ids=["7", "8"])
@pytest.mark.parametrize("kind", ["image", "frame"])
def test_every_format_writes_and_reads_back(tmp_path, fmt, classes, kind):
    records = image_records(classes) if kind == "image" else frame_records(classes)
    path = tmp_path / f"r{FORMATS[fmt].suffix}"
    with ResultWriter(path, kind, classes) as w:
        for r in records:
            w.write(r)
    back = read_records(path)
    assert comparable(back) == comparable(records)
    if kind == "image":
        assert [r["status"] for r in back] == ["ok", "no_face", "error"]
    if fmt == "csv":
        header = next(csv.reader(path.open()))
        assert header == columns(kind, classes)
        assert ("contempt" in header) == (len(classes) == 8)  # the model's classes, contempt never dropped


def test_json_is_written_as_it_goes_and_read_when_cut_off(tmp_path):
    path = tmp_path / "r.json"
    w = ResultWriter(path, "image", EMOTIONS)
    records = image_records(EMOTIONS)
    for r in records:
        w.write(r)
    # before close the file already holds every record (not only in memory)
    assert comparable(read_records(path)) == comparable(records)
    w.close()
    assert json.loads(path.read_text()) == records


def test_resume_continues_a_file_and_cuts_a_half_written_line(tmp_path):
    path = tmp_path / "r.jsonl"
    records = frame_records(EMOTIONS)
    with ResultWriter(path, "frame", EMOTIONS) as w:
        w.write(records[0])
        w.write(records[1])
    with open(path, "a") as fh:
        fh.write('{"frame": 6, "time_s": 0.2, "fa')  # killed mid-line
    with ResultWriter(path, "frame", EMOTIONS, resume=True) as w:
        w.write(records[2])
    assert read_records(path) == records


def test_csv_of_another_model_is_not_continued(tmp_path):
    path = tmp_path / "r.csv"
    with ResultWriter(path, "frame", EMOTIONS) as w:
        w.write(frame_records(EMOTIONS)[0])
    with pytest.raises(InputError, match="columns"):
        ResultWriter(path, "frame", CKPLUS_CLASSES, resume=True)


def test_outputs_are_checked_before_any_work(tmp_path):
    (tmp_path / "r.json").write_text("[]")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        ResultWriter(tmp_path / "r.json", "image", EMOTIONS)
    with pytest.raises(OptionError, match="must end in"):
        ResultWriter(tmp_path / "r.txt", "image", EMOTIONS)
    with pytest.raises(OutputError, match="is a folder"):
        check_writable(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        if os.geteuid() != 0:  # root may write anywhere
            with pytest.raises(OutputError, match="permission"):
                check_writable(locked / "r.json")
    finally:
        locked.chmod(0o700)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create its folder"):
        check_writable(blocker / "sub" / "r.json")


def test_to_pandas_one_row_per_face():
    pd = pytest.importorskip("pandas")
    result = ImageResult("a.png", 64, 48, [face(CKPLUS_CLASSES), face(CKPLUS_CLASSES, 1)], classes=CKPLUS_CLASSES)
    df = result.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 2 and list(df["x"]) == [10, 11] and "contempt" in df.columns
    frames = to_pandas(frame_records(EMOTIONS))
    assert len(frames) == 4  # 2 + 1 empty frame + 1
    assert frames["track_id"].isna().sum() == 1 and "raw_happy" in frames.columns


def test_results_behave_like_their_list_of_faces():
    result = ImageResult("a.png", 64, 48, [face(EMOTIONS), face(EMOTIONS, 1)], classes=EMOTIONS)
    assert len(result) == 2 and result[1].box[0] == 11 and [f.box[0] for f in result] == [10, 11]
    assert ImageResult.failed("x", "bad").status == "error"


def test_records_without_faces_stay_apart_when_read_back(tmp_path):
    failed = [ImageResult.failed(None, "bad array", EMOTIONS).to_dict() for _ in range(2)]
    for fmt in ("csv", "parquet"):
        path = tmp_path / f"r{FORMATS[fmt].suffix}"
        with ResultWriter(path, "image", EMOTIONS) as w:
            for r in failed:
                w.write(r)
        assert len(read_records(path)) == 2, fmt
