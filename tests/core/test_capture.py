import socket
import time

import numpy as np
import pytest
from video_files import levels, write_video

from ferkit.core import capture
from ferkit.core.capture import CaptureSource, open_frame_source
from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.video_file import VideoFrame, VideoInfo, VideoReader


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "v.mp4", levels(30))


class FakeClock:
    """Advances one 30 fps frame per reading."""

    def __init__(self):
        self.t = 100.0
        self.n = 0

    def __call__(self):
        t = self.t + self.n / 30
        self.n += 1
        return t


def test_capture_source_reads_frames_like_a_reader(video):
    with CaptureSource(str(video)) as source:
        info = source.info
        assert isinstance(info, VideoInfo)
        assert (info.width, info.height, info.frames, info.duration_s) == (96, 64, None, None)
        assert info.fps == pytest.approx(30)
        assert source.expected_samples() is None
        assert not source.complete
        frames = list(source)
        assert source.status() == {"frames_declared": None, "frames_read": 30, "skipped": 0, "truncated": False,
                                   "complete": True}
    assert source._cap is None  # released by the context manager
    source.close()  # twice is fine
    assert all(isinstance(f, VideoFrame) for f in frames)
    assert [f.index for f in frames] == list(range(30))
    times = [f.time_s for f in frames]
    assert times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:]))
    assert frames[5].image.shape == (64, 96, 3) and frames[5].image.dtype == np.uint8
    assert abs(frames[5].image.mean() - 40) < 6


def test_capture_sampling_every(video):
    with CaptureSource(video, every=3) as source:
        assert [f.index for f in source] == list(range(0, 30, 3))
        assert source.frames_read == 30


def test_capture_sampling_by_fps_follows_the_clock(video, monkeypatch):
    monkeypatch.setattr(capture, "_now", FakeClock())
    with CaptureSource(video, fps=7) as source:
        frames = list(source)
    assert np.allclose([f.time_s for f in frames], [f.index / 30 for f in frames])
    with VideoReader(video, fps=7) as reader:  # the same rule as for files, on the same times
        assert [f.index for f in frames] == [f.index for f in reader]
    assert len(frames) == 7


@pytest.mark.parametrize("kw", [{"every": 0}, {"fps": 0}, {"fps": -1.0}])
def test_capture_bad_options(video, kw):
    with pytest.raises(OptionError):
        CaptureSource(video, **kw)


@pytest.mark.parametrize("spec", ["97", 97])
def test_missing_device_is_a_clear_input_error_fast(spec):
    start = time.monotonic()
    with pytest.raises(InputError, match="97"):
        CaptureSource(spec)
    with pytest.raises(InputError, match="97"):
        open_frame_source(spec)
    assert time.monotonic() - start < 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unopenable_sources_name_themselves(tmp_path):
    missing = tmp_path / "nothing.mp4"
    with pytest.raises(InputError, match="nothing.mp4"):
        CaptureSource(str(missing))
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"  # nothing listens there
    start = time.monotonic()
    with pytest.raises(InputError, match="127.0.0.1"):
        open_frame_source(url)
    assert time.monotonic() - start < 15


def test_open_frame_source_opens_files_as_readers(video):
    for spec in (video, str(video)):
        with open_frame_source(spec, every=2, start_frame=10) as source:
            assert isinstance(source, VideoReader)
            assert [f.index for f in source] == list(range(10, 30, 2))
    with open_frame_source(video, fps=10) as source:
        assert [f.index for f in source] == list(range(0, 30, 3))


def test_open_frame_source_dispatch(monkeypatch):
    opened = []

    class Recorder:
        def __init__(self, spec, every=1, fps=None):
            opened.append((spec, every, fps))

    monkeypatch.setattr(capture, "CaptureSource", Recorder)
    for spec in ("0", 1, "rtsp://camera.local/live", "http://host:8080/video.mjpg"):
        assert isinstance(open_frame_source(spec, every=2, fps=5.0), Recorder)
    assert opened == [("0", 2, 5.0), (1, 2, 5.0), ("rtsp://camera.local/live", 2, 5.0),
                      ("http://host:8080/video.mjpg", 2, 5.0)]


def test_open_frame_source_errors(tmp_path):
    with pytest.raises(MissingInputError, match="nope.mp4"):
        open_frame_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(MissingInputError, match="nope.mp4"):
        open_frame_source(tmp_path / "nope.mp4")
    with pytest.raises(MissingInputError, match="webcam"):
        open_frame_source("webcam")
    with pytest.raises(OptionError, match="start_frame"):
        open_frame_source("rtsp://camera.local/live", start_frame=5)
    with pytest.raises(OptionError, match="start_frame"):
        open_frame_source(str(tmp_path), start_frame=-1)
    with pytest.raises(OptionError):
        open_frame_source(True)
    with pytest.raises(InputError, match="directory"):
        open_frame_source(tmp_path)
