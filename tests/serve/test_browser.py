"""The three flows of the page in a real Chromium (Debian's, driven by Playwright): a photo, the live camera
(Chromium's fake camera fed from a generated .y4m clip of a face) and a video. Each saves a screenshot under
the test's output folder; FERKIT_SCREENSHOTS=DIR copies them there too (the README's pictures)."""

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from serve_helpers import SAMPLE

from ferkit.serve.launch import running_server, start_server
from ferkit.video.synthetic import Sprite, make_test_video, render_frame, sample_face

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="browser tests need Chromium: apt-get install chromium "
                       "(.ci/run installs it)"),
    pytest.mark.skipif(sync_playwright is None, reason="browser tests need Playwright: pip install playwright"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`ferkit serve` as a user starts it (the CLI in a child process), on a free port."""
    with running_server(tmp_path_factory.mktemp("serve")) as srv:
        yield srv.url


def write_y4m(path: Path, seconds: float = 3.0, fps: int = 15) -> Path:
    """A YUV4MPEG2 clip of the sample face moving, for Chromium's fake camera."""
    sprites = [Sprite(sample_face(170), (120, 120), (330, 170))]
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W640 H480 F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        n = int(seconds * fps)
        for i in range(n):
            frame, _ = render_frame(640, 480, sprites, i / fps, seconds)
            fh.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    camera = write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}"])
        yield browser
        browser.close()


def screenshot(page, tmp_path: Path, name: str) -> Path:
    out = tmp_path / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    if os.environ.get("FERKIT_SCREENSHOTS"):
        Path(os.environ["FERKIT_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(os.environ["FERKIT_SCREENSHOTS"]) / out.name)
    return out


def test_photo_flow(server, chromium, tmp_path):
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server)
    page.set_input_files("#photo-input", str(SAMPLE))
    page.wait_for_function("document.body.dataset.photoFaces !== undefined", timeout=30000)
    assert page.evaluate("document.body.dataset.photoFaces") == "1"
    assert page.is_visible("#photo-annotated") and page.is_visible("#photo-download")
    assert "1 face found" in page.inner_text("#photo-message")
    happy = page.locator('#photo-faces .bar[data-emotion="happy"] .value').inner_text()
    assert int(happy.rstrip("%")) > 50
    with page.expect_download() as got:
        page.click("#photo-download")
    assert '"faces"' in Path(got.value.path()).read_text()
    assert screenshot(page, tmp_path, "photo").stat().st_size > 20000
    # a file that is not an image: the server's reason is shown
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    page.set_input_files("#photo-input", str(bad))
    page.wait_for_function("document.body.dataset.photoFaces === 'error'", timeout=15000)
    assert "not a readable image" in page.inner_text("#photo-message")
    page.close()


def test_live_flow_with_a_fake_camera(server, chromium, tmp_path):
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(server)
    page.click("#tab-live")
    page.click("#live-start")
    page.wait_for_function("Number(document.body.dataset.liveResults || 0) >= 3", timeout=30000)
    first = int(page.evaluate("document.body.dataset.liveResults"))
    # the results keep coming, and the fake camera's face is found in them
    page.wait_for_function(f"Number(document.body.dataset.liveResults) >= {first + 10} && "
                           "document.body.dataset.liveFaces === '1'", timeout=30000)
    assert page.locator("#live-bars .bar").count() == 7, page.inner_text("#live-message")
    page.wait_for_function("Number(document.getElementById('live-fps').textContent) > 0 && "
                           "Number(document.getElementById('live-latency').textContent) > 0", timeout=30000)
    # boxes are drawn on the overlay: some of its pixels are no longer transparent
    drawn = page.evaluate("""() => { const c = document.getElementById('live-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
    assert drawn > 500
    start = int(page.evaluate("document.body.dataset.liveResults"))
    page.click("#live-record")
    # record a few analysed frames, however slowly a busy machine answers
    page.wait_for_function(f"Number(document.body.dataset.liveResults) >= {start + 4}", timeout=60000)
    page.click("#live-record")
    with page.expect_download() as got:
        page.click("#live-download-csv")
    lines = Path(got.value.path()).read_text().splitlines()
    assert lines[0].startswith("time_ms,track_id,label") and len(lines) > 3
    page.uncheck("#live-smooth")
    page.wait_for_timeout(500)
    assert screenshot(page, tmp_path, "live").stat().st_size > 20000
    page.click("#live-stop")
    context.close()


def test_video_flow(server, chromium, tmp_path):
    clip = tmp_path / "clip.mp4"
    make_test_video(clip, [Sprite(sample_face(150), (60, 60), (320, 200))], seconds=2.0, fps=15)
    page = chromium.new_page(viewport={"width": 1200, "height": 1100})
    page.goto(server)
    page.click("#tab-video")
    page.set_input_files("#video-input", str(clip))
    page.wait_for_function("document.body.dataset.videoState === 'done'", timeout=60000)
    page.wait_for_function("document.getElementById('video-timeline').naturalWidth > 0", timeout=15000)
    assert "done" in page.inner_text("#video-status")
    assert "Dominant emotion: happy" in page.inner_text("#video-summary")
    links = page.locator("#video-downloads a").all_inner_texts()
    assert set(links) == {"summary.json", "timeline.png", "rows.csv", "rows.jsonl", "annotated.mp4"}
    with page.expect_download() as got:
        page.click("#video-downloads a:text('rows.csv')")
    assert Path(got.value.path()).read_text().count("\n") == 31
    assert screenshot(page, tmp_path, "video").stat().st_size > 20000
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    page.set_input_files("#video-input", str(fake))
    page.wait_for_function("document.body.dataset.videoState === 'refused'", timeout=15000)
    assert "fake.mp4" in page.inner_text("#video-status")
    page.close()


def test_the_page_says_when_the_server_is_gone(chromium, tmp_path):
    srv = start_server(tmp_path / "work")
    page = chromium.new_page()
    page.goto(srv.url)
    srv.stop()
    page.set_input_files("#photo-input", str(SAMPLE))
    page.wait_for_selector("#server-status:not(.hidden)", timeout=15000)
    assert "server is gone" in page.inner_text("#server-status")
    page.close()
