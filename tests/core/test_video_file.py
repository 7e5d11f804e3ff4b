import numpy as np
import pytest

from ferkit.video import VideoReader, VideoReadError, VideoWriter


def write(path, n=30, fps=30, size=(96, 64)):
    with VideoWriter(path, fps, *size) as w:
        for i in range(n):
            w.write(np.full((size[1], size[0], 3), (i * 8) % 256, np.uint8))
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv", ".webm", ".mov"])
def test_containers_and_timestamps(tmp_path, suffix):
    path = write(tmp_path / f"v{suffix}")
    with VideoReader(path) as r:
        assert (r.info.width, r.info.height) == (96, 64)
        assert r.info.fps == pytest.approx(30, rel=1e-3)
        frames = list(r)
    assert [f.index for f in frames] == list(range(30))
    assert frames[0].time_s == 0.0
    assert np.allclose([f.time_s for f in frames], np.arange(30) / 30, atol=1e-3)
    assert frames[5].image.shape == (64, 96, 3) and frames[5].image.dtype == np.uint8
    assert abs(frames[5].image.mean() - 40) < 6


def test_sampling(tmp_path):
    path = write(tmp_path / "v.mp4", n=60)
    with VideoReader(path, every=4) as r:
        assert [f.index for f in r][:4] == [0, 4, 8, 12]
        assert r.expected_samples() == 15
    with VideoReader(path, fps=5) as r:
        frames = list(r)
    assert [f.index for f in frames] == list(range(0, 60, 6))
    with VideoReader(path, every=2, start_frame=50) as r:
        assert [f.index for f in r] == [50, 52, 54, 56, 58]
    with pytest.raises(ValueError):
        VideoReader(path, every=0)


def test_corrupt_frame_is_skipped_and_counted(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "v.avi"  # MJPEG: one JPEG per frame
    with VideoWriter(path, 10, 64, 48) as w:
        for _ in range(20):
            w.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[starts[10] : starts[11] - 20] = bytes(starts[11] - 20 - starts[10])
    path.write_bytes(bytes(data))
    with VideoReader(path) as r:
        frames = list(r)
        assert r.skipped == 1
    assert len(frames) == 19 and 10 not in [f.index for f in frames]
    assert frames[10].time_s == pytest.approx(1.1)  # timestamps stay exact after the gap


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        VideoReader(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty file"):
        VideoReader(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 50)
    with pytest.raises(VideoReadError, match="not a readable video"):
        VideoReader(tmp_path / "junk.mp4")
    with pytest.raises(VideoReadError, match="directory"):
        VideoReader(tmp_path)


def test_truncated_video_gives_the_frames_it_has(tmp_path):
    path = write(tmp_path / "v.avi", n=30)
    data = path.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    with VideoReader(tmp_path / "cut.avi") as r:
        frames = list(r)
    assert 5 <= len(frames) < 30
