import logging
import re
import struct

import av
import numpy as np
import pytest
from video_files import levels, write_video

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.video_file import VideoReader, VideoReadError, completeness_margin


def noise(n, w=64, h=48, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def moving(n, w=160, h=120):
    """A block moving right, a counter bar growing: every frame differs from its neighbours."""
    out = []
    for i in range(n):
        img = np.full((h, w, 3), 60, np.uint8)
        img[:, :, 0] = np.linspace(0, 255, w, dtype=np.uint8)[None]
        x = (i * 3) % (w - 30)
        img[40:70, x : x + 30] = (0, 200, 255)
        img[5:15, 5 : 5 + i % 100] = 255
        out.append(img)
    return out


def garble(path, out, at=0.5, n=300, seed=1):
    """Overwrite ``n`` bytes at ``at`` of the file's length with random bytes; returns the offset."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start : start + n] = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
    out.write_bytes(bytes(data))
    return start


def read_all(path, **kw):
    with VideoReader(path, **kw) as r:
        frames = list(r)
    return frames, r


def assert_increasing(frames):
    times, indices = [f.time_s for f in frames], [f.index for f in frames]
    assert all(b > a for a, b in zip(times, times[1:])), times
    assert all(b > a for a, b in zip(indices, indices[1:])), indices


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv", ".webm", ".mov"])
def test_containers_and_timestamps(tmp_path, suffix):
    path = write_video(tmp_path / f"v{suffix}", levels(30))
    with VideoReader(path) as r:
        assert (r.info.width, r.info.height, r.info.rotation) == (96, 64, 0)
        assert r.info.fps == pytest.approx(30, rel=1e-3)
        assert r.frames_declared == r.info.frames == 30
        assert not r.complete  # nothing read yet
        frames = list(r)
        assert r.status() == {"frames_declared": 30, "frames_read": 30, "skipped": 0, "truncated": False,
                              "complete": True}
    assert [f.index for f in frames] == list(range(30))
    assert frames[0].time_s == 0.0
    assert np.allclose([f.time_s for f in frames], np.arange(30) / 30, atol=1e-3)
    assert frames[5].image.shape == (64, 96, 3) and frames[5].image.dtype == np.uint8
    assert abs(frames[5].image.mean() - 40) < 6


def test_sampling(tmp_path):
    path = write_video(tmp_path / "v.mp4", levels(60))
    with VideoReader(path, every=4) as r:
        assert [f.index for f in r][:4] == [0, 4, 8, 12]
        assert r.expected_samples() == 15
    frames, _ = read_all(path, fps=5)
    assert [f.index for f in frames] == list(range(0, 60, 6))
    with VideoReader(path, every=2, start_frame=50) as r:
        assert r.expected_samples() == 5
        assert [f.index for f in r] == [50, 52, 54, 56, 58]


@pytest.mark.parametrize("kw", [{"every": 0}, {"every": 1.5}, {"fps": 0}, {"fps": -2.0}, {"start_frame": -1}])
def test_bad_options(tmp_path, kw):
    path = write_video(tmp_path / "v.mp4", levels(5))
    name = next(iter(kw))
    with pytest.raises(OptionError, match=name):
        VideoReader(path, **kw)


def test_bad_files(tmp_path):
    assert issubclass(VideoReadError, InputError)
    with pytest.raises(MissingInputError, match="missing.mp4"):
        VideoReader(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty.mp4: empty file"):
        VideoReader(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 50)
    with pytest.raises(InputError, match="junk.mp4: not a readable video"):
        VideoReader(tmp_path / "junk.mp4")
    with pytest.raises(InputError, match="directory"):
        VideoReader(tmp_path)


# --- task 1: damage ---------------------------------------------------------------------------

@pytest.mark.parametrize("suffix,options", [(".avi", None), (".mkv", None), (".mp4", {"movflags": "faststart"})])
def test_truncated_video_is_reported_incomplete(tmp_path, caplog, suffix, options):
    source = tmp_path / f"v{suffix}"
    write_video(source, noise(60, 160, 120) if suffix == ".avi" else moving(60), gop=10, container_options=options)
    cut = tmp_path / f"cut{suffix}"
    data = source.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING, logger="ferkit.core.video_file"):
        with VideoReader(cut) as r:
            frames = list(r)
    assert 10 <= len(frames) < 50
    assert_increasing(frames)
    assert [f.index for f in frames] == list(range(len(frames)))  # what is there is read in order
    status = r.status()
    assert status == {"frames_declared": 60, "frames_read": len(frames), "skipped": status["skipped"],
                      "truncated": True, "complete": False}
    assert r.frames_read + r.skipped < 60 - completeness_margin(60)
    assert any(str(cut) in m and "incomplete" in m for m in caplog.messages)
    assert all(str(cut) in m for m in caplog.messages)


def test_truncated_mp4_without_its_index_cannot_be_opened(tmp_path):
    source = write_video(tmp_path / "v.mp4", moving(60))  # the index (moov) is written last
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source.read_bytes()[: int(source.stat().st_size * 0.6)])
    with pytest.raises(VideoReadError, match=re.escape(str(cut)) + ".*truncated"):
        VideoReader(cut)


def jpeg_spans(data):
    starts = [m.start() for m in re.finditer(rb"\xff\xd8", data)]
    return list(zip(starts, starts[1:] + [len(data)]))


def test_corrupt_mjpeg_frames_in_the_middle(tmp_path, caplog):
    originals = noise(40)
    source = write_video(tmp_path / "v.avi", originals, fps=10)
    damaged = tmp_path / "damaged.avi"
    start = garble(source, damaged, at=0.5, n=300, seed=7)
    spans = jpeg_spans(source.read_bytes())
    assert len(spans) == 40
    hit = {k for k, (a, b) in enumerate(spans) if a < start + 300 and start < b}
    assert hit and max(hit) < 39
    with caplog.at_level(logging.WARNING, logger="ferkit.core.video_file"):
        frames, r = read_all(damaged)
    got = {f.index: f for f in frames}
    assert r.skipped >= 1 and set(range(40)) - set(got) <= hit  # only damaged frames are missing
    assert r.frames_read + r.skipped == 40 and r.complete and not r.truncated
    assert_increasing(frames)
    for index, frame in got.items():
        assert frame.time_s == pytest.approx(index / 10)
        if index not in hit:  # the right picture for its index, before and after the damage
            assert np.abs(frame.image.astype(int) - read_frame(source, index).astype(int)).mean() < 1
    assert max(got) == 39
    assert caplog.messages and all(str(damaged) in m for m in caplog.messages)


def read_frame(path, index):
    with VideoReader(path) as r:
        return next(f.image for f in r if f.index == index)


def test_corrupt_h264_frames_in_the_middle(tmp_path, caplog):
    source = write_video(tmp_path / "v.mp4", moving(90), gop=15)
    damaged = tmp_path / "damaged.mp4"
    garble(source, damaged, at=0.45, n=300, seed=1)  # the old reader numbered the frames after this wrongly
    intact, _ = read_all(source)
    with caplog.at_level(logging.WARNING, logger="ferkit.core.video_file"):
        frames, r = read_all(damaged)
    assert r.skipped >= 1 and r.frames_read == len(frames) == 90 - r.skipped
    assert r.status()["complete"] and not r.truncated
    assert_increasing(frames)
    assert all(f.index == round(f.time_s * 30) for f in frames)
    assert (frames[-1].index, frames[-1].time_s) == (89, pytest.approx(89 / 30, abs=1e-6))
    missing = sorted(set(range(90)) - {f.index for f in frames})
    assert 15 <= missing[0] and missing[-1] < 75  # the damage is in the middle
    next_key = (missing[-1] // 15 + 1) * 15
    after = [f for f in frames if f.index >= next_key]
    assert [f.index for f in after] == list(range(next_key, 90))  # everything after is analysed
    for f in after + [f for f in frames if f.index < missing[0]]:
        assert np.abs(f.image.astype(int) - intact[f.index].image.astype(int)).mean() < 2, f.index
    assert caplog.messages and all(str(damaged) in m for m in caplog.messages)


def mkv_block_timecodes(data):
    """Offsets of the 16-bit relative timecodes of the MJPEG SimpleBlocks of an MKV, in order."""
    return [m.start() + 1 for m in re.finditer(rb"\x81..[\x00-\xff]\xff\xd8", data, re.S)]


def test_frames_with_timestamps_going_back_or_repeating_are_skipped(tmp_path, caplog):
    originals = noise(20)
    source = write_video(tmp_path / "v.mkv", originals, fps=10, codec="mjpeg")
    data = bytearray(source.read_bytes())
    offsets = mkv_block_timecodes(bytes(data))
    assert len(offsets) == 20

    def shift(k, ms):
        (tc,) = struct.unpack(">h", data[offsets[k] : offsets[k] + 2])
        data[offsets[k] : offsets[k] + 2] = struct.pack(">h", tc + ms)

    shift(5, +600)  # a jump ahead that the next frames contradict
    shift(10, -250)  # back in time
    shift(15, -100)  # the same time as frame 14
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    with av.open(str(damaged)) as c:  # the file does have such timestamps
        assert [f.pts for f in c.decode(video=0)][4:17] == [400, 1100, 600, 700, 800, 900, 750, 1100, 1200, 1300,
                                                             1400, 1400, 1600]
    with caplog.at_level(logging.WARNING, logger="ferkit.core.video_file"):
        frames, r = read_all(damaged)
    assert [f.index for f in frames] == [i for i in range(20) if i not in (5, 10, 15)]
    assert_increasing(frames)
    assert all(f.time_s == pytest.approx(f.index / 10) for f in frames)
    for f in frames:
        assert np.abs(f.image.astype(int) - read_frame(source, f.index).astype(int)).mean() < 1
    assert r.status() == {"frames_declared": 20, "frames_read": 17, "skipped": 3, "truncated": False,
                          "complete": True}
    assert caplog.messages and all(str(damaged) in m for m in caplog.messages)


def test_timestamp_discontinuity_is_rebased(tmp_path, caplog):
    """Two MPEG-TS files joined byte-wise: the second one's timestamps start again from 0."""
    first = write_video(tmp_path / "a.ts", moving(30))
    second = write_video(tmp_path / "b.ts", moving(30)[::-1])
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    with caplog.at_level(logging.WARNING, logger="ferkit.core.video_file"):
        frames, r = read_all(joined)
    assert [f.index for f in frames] == list(range(60))
    assert np.allclose([f.time_s for f in frames], np.arange(60) / 30, atol=1e-3)
    assert_increasing(frames)
    assert r.skipped == 0 and r.frames_read == 60
    assert any(str(joined) in m and "jump back" in m for m in caplog.messages)


# --- task 2: rotation --------------------------------------------------------------------------

def pattern(w=64, h=32):
    img = np.full((h, w, 3), 30, np.uint8)
    img[0:12, 0:20] = 255
    img[20:32, 40:64] = 140
    return img


CANDIDATES = {
    "none": lambda a: a, "cw": lambda a: np.rot90(a, -1), "ccw": lambda a: np.rot90(a, 1),
    "180": lambda a: np.rot90(a, 2), "ccw+hflip": lambda a: np.rot90(a, 1)[:, ::-1], "hflip": lambda a: a[:, ::-1],
}


@pytest.mark.parametrize("suffix,rotation,hflip,metadata,expected,clockwise", [
    (".mp4", 90, False, None, "ccw", 270),  # PyAV's rotation is counter-clockwise, as FFmpeg reads it back
    (".mp4", -90, False, None, "cw", 90),  # a phone held upright: turn clockwise to show
    (".mov", 180, False, None, "180", 180),
    (".mp4", 270, False, None, "cw", 90),
    (".mp4", 90, True, None, "ccw+hflip", 270),
    (".mkv", None, False, {"rotate": "90"}, "cw", 90),  # the old "rotate" tag, clockwise degrees
])
def test_rotation_metadata(tmp_path, suffix, rotation, hflip, metadata, expected, clockwise):
    original = pattern()
    path = write_video(tmp_path / f"v{suffix}", [original] * 3, rotation=rotation, hflip=hflip, metadata=metadata)
    want = CANDIDATES[expected](original)
    with VideoReader(path) as r:
        assert (r.info.height, r.info.width) == want.shape[:2]
        assert r.info.rotation == clockwise
        frames = list(r)
    assert len(frames) == 3
    image = frames[0].image
    assert image.shape == want.shape and image.flags.c_contiguous
    diffs = {name: np.abs(image.astype(int) - f(original).astype(int)).mean()
             for name, f in CANDIDATES.items() if f(original).shape == image.shape}
    assert diffs[expected] < 6 and min(diffs, key=diffs.get) == expected, diffs


# --- task 3: resuming --------------------------------------------------------------------------

@pytest.mark.parametrize("damaged", [False, True])
@pytest.mark.parametrize("kw", [{"every": 3}, {"fps": 7}])
def test_start_frame_yields_exactly_the_tail(tmp_path, kw, damaged):
    path = write_video(tmp_path / "v.mp4", moving(90), gop=15)
    if damaged:
        garble(path, path, at=0.45, n=300, seed=1)
    full = [(f.index, f.time_s) for f in read_all(path, **kw)[0]]
    assert len(full) >= 15
    if "fps" in kw:  # about 7 a second
        assert len(full) == pytest.approx(7 * 3, abs=2 + 3 * damaged)
    for k in (1, 2, 3, 4, 5, 10, 13, 44, 45, 89, 90):
        with VideoReader(path, start_frame=k, **kw) as r:
            tail = [(f.index, f.time_s) for f in r]
            if not damaged and "every" in kw:
                assert r.expected_samples() == len(tail)
        assert tail == [x for x in full if x[0] >= k], k


@pytest.mark.parametrize("suffix,size", [(".mp4", (322, 182)), (".avi", (160, 96)), (".webm", (161, 97))])
def test_frames_convert_to_bgr_as_ffmpeg_does(tmp_path, suffix, size):
    """4:2:0 limited-range frames (H.264 here) take OpenCV's conversion, within a few levels of
    FFmpeg's; full-range MJPEG and odd sizes go through FFmpeg itself."""
    import cv2

    from ferkit.core.video_file import frame_to_bgr

    rng = np.random.default_rng(0)
    frames = [cv2.GaussianBlur(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), (15, 15), 5)
              for _ in range(3)]
    path = write_video(tmp_path / f"v{suffix}", frames)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            got, ffmpeg = frame_to_bgr(frame), frame.to_ndarray(format="bgr24")
            assert got.shape == ffmpeg.shape == (size[1], size[0], 3) and got.dtype == np.uint8
            diff = np.abs(got.astype(int) - ffmpeg)
            assert diff.mean() < 2.0 and diff.max() <= 6
            assert np.abs(got.astype(int) - frames[0]).mean() < 8  # and both are the picture written
