"""The web app's HTTP and WebSocket API through FastAPI's test client."""

import json
import struct
import threading
import time

import numpy as np
import pytest
from serve_helpers import SAMPLE, jpeg

from ferkit.core.errors import OptionError
from ferkit.core.labels import EMOTIONS
from ferkit.serve import ServeOptions
from ferkit.video.synthetic import Sprite, make_test_video, sample_face


def post_image(client, data: bytes, name="photo.jpg", query=""):
    return client.post(f"/api/analyze{query}", files={"file": (name, data, "application/octet-stream")})


def test_health_model_page_and_docs(make_client):
    c = make_client()
    h = c.get("/api/health").json()
    assert h["status"] == "ok" and h["classes"] == list(EMOTIONS) and h["token_required"] is False
    assert c.get("/api/model").json()["name"] == "ferkit_default"
    assert "ferkit" in c.get("/").text and c.get("/static/app.js").status_code == 200
    assert c.get("/docs").status_code == 200 and "/api/analyze" in c.get("/openapi.json").json()["paths"]
    missing = c.get("/api/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "Not Found"


def test_analyze_a_photo_with_and_without_the_annotated_image(make_client, sample_bgr):
    c = make_client()
    r = post_image(c, SAMPLE.read_bytes(), "astronaut.png")
    assert r.status_code == 200
    body = r.json()
    assert body["path"] == "astronaut.png" and body["width"] == 512 and "annotated_jpeg" not in body
    face = body["faces"][0]
    assert list(face["emotions"]) == list(EMOTIONS) and face["label"] == "happy" and face["sentiment"] == "positive"
    r = post_image(c, jpeg(sample_bgr), query="?annotate=1")
    import base64

    import cv2

    annotated = cv2.imdecode(np.frombuffer(base64.b64decode(r.json()["annotated_jpeg"]), np.uint8), cv2.IMREAD_COLOR)
    assert annotated.shape == sample_bgr.shape and not np.array_equal(annotated, sample_bgr)
    blank = post_image(c, jpeg(np.full((200, 300, 3), 128, np.uint8)))
    assert blank.status_code == 200 and blank.json()["faces"] == []


@pytest.mark.parametrize("data, name, why", [
    (b"", "empty.jpg", "empty file"),
    (b"hello, I am text", "notes.jpg", "not a readable image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "cut.jpg", "truncated JPEG"),
    (b"%PDF-1.4 not an image", "doc.pdf", "not a readable image"),
])
def test_every_kind_of_bad_upload_is_refused_with_a_reason(make_client, data, name, why):
    r = post_image(make_client(), data, name)
    assert r.status_code == 415 and why in r.json()["error"] and name in r.json()["error"]


def test_limits_size_pixels_and_missing_field(make_client, sample_bgr):
    c = make_client(max_image_mb=0.01, max_pixels=100_000)
    r = post_image(c, SAMPLE.read_bytes(), "big.png")
    assert r.status_code == 413 and "larger than" in r.json()["error"]
    c2 = make_client(max_pixels=100_000)
    r = post_image(c2, jpeg(sample_bgr), "wide.jpg")
    assert r.status_code == 413 and "512x512 pixels" in r.json()["error"]
    r = c2.post("/api/analyze")
    assert r.status_code == 422 and "file" in r.json()["error"]


def test_token_is_required_on_every_request_when_set(make_client):
    c = make_client(token="s3cret-token")
    assert c.get("/api/health").status_code == 401
    assert c.get("/api/health", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert c.get("/api/health", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert c.get("/api/health?token=s3cret-token").status_code == 200
    assert c.get("/").status_code == 200  # the page itself asks for the token
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as closed, c.websocket_connect("/api/stream") as ws:
        ws.receive_text()
    assert closed.value.code == 4401
    with c.websocket_connect("/api/stream?token=s3cret-token") as ws:
        ws.send_text(json.dumps({"type": "options", "smooth": False}))
        assert json.loads(ws.receive_text()) == {"type": "options", "smooth": False}


def test_serving_beyond_this_machine_needs_a_token():
    with pytest.raises(OptionError, match="needs a token"):
        ServeOptions(host="0.0.0.0")
    assert ServeOptions(host="0.0.0.0", token="long-enough").host == "0.0.0.0"
    with pytest.raises(OptionError, match="at least 8"):
        ServeOptions(token="short")


# ------------------------------------------------------------------ live stream
def frame(image, t_ms: float) -> bytes:
    return struct.pack("<d", t_ms) + jpeg(image)


def moving_face(i: int) -> np.ndarray:
    canvas = np.full((480, 640, 3), 70, np.uint8)
    face = sample_face(150)
    x = 100 + 8 * i
    canvas[100:250, x : x + 150] = face
    return canvas


def results(ws, n):
    out = []
    while len(out) < n:
        msg = json.loads(ws.receive_text())
        out.append(msg)
    return out


def test_stream_tracks_each_connection_separately(make_client):
    c = make_client(max_stream_fps=1000.0)
    with c.websocket_connect("/api/stream") as a, c.websocket_connect("/api/stream") as b:
        for i in range(3):
            a.send_bytes(frame(moving_face(i), 100.0 * i))
            (ra,) = results(a, 1)
            assert ra["type"] == "result" and len(ra["faces"]) == 1 and ra["faces"][0]["track_id"] == 0
        two = np.concatenate([moving_face(0)[:, :320], moving_face(20)[:, 320:]], axis=1)
        b.send_bytes(frame(two, 0.0))
        (rb,) = results(b, 1)
        assert sorted(f["track_id"] for f in rb["faces"]) == [0, 1]
        a.send_bytes(frame(moving_face(3), 300.0))
        (ra,) = results(a, 1)
        assert [f["track_id"] for f in ra["faces"]] == [0]  # b's faces did not touch a's tracker
        assert ra["processing_ms"] > 0 and ra["received"] == 4 and ra["analysed"] == 4


def test_stream_bad_frames_get_errors_and_the_connection_goes_on(make_client):
    c = make_client(max_frame_kb=64, max_stream_fps=1000.0)  # no frame here is dropped for its rate
    with c.websocket_connect("/api/stream") as ws:
        ws.send_bytes(b"\x00\x01")
        assert "8 bytes of time" in json.loads(ws.receive_text())["message"]
        ws.send_bytes(struct.pack("<d", 1.0) + b"garbage, not a jpeg")
        assert "not a readable image" in json.loads(ws.receive_text())["message"]
        noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
        ws.send_bytes(frame(noise, 2.0))
        assert "over the 64 KB limit" in json.loads(ws.receive_text())["message"]
        ws.send_bytes(frame(moving_face(0), 50.0))
        assert json.loads(ws.receive_text())["type"] == "result"
        ws.send_bytes(frame(moving_face(1), 40.0))  # time went backwards
        assert "timestamps must increase" in json.loads(ws.receive_text())["message"]
        ws.send_text("{not json")
        assert "must be JSON" in json.loads(ws.receive_text())["message"]
        ws.send_text(json.dumps({"type": "options", "smooth": "yes"}))
        assert "unknown message" in json.loads(ws.receive_text())["message"]
        ws.send_bytes(frame(moving_face(2), 60.0))
        assert json.loads(ws.receive_text())["type"] == "result"


def test_the_newest_frame_wins_and_nothing_queues(make_client, monkeypatch):
    from ferkit.serve.stream import LiveConnection

    analyse = LiveConnection._analyse

    def slow_analyse(self, t_ms, jpeg):  # slower than the burst arrives, however fast the machine
        time.sleep(0.2)
        return analyse(self, t_ms, jpeg)

    monkeypatch.setattr(LiveConnection, "_analyse", slow_analyse)
    c = make_client(max_stream_fps=1000.0)
    with c.websocket_connect("/api/stream") as ws:
        burst = 25
        for i in range(burst):
            ws.send_bytes(frame(moving_face(i % 10), 10.0 * i))
        time.sleep(1.5)  # the burst is settled: whatever was waiting has been analysed
        ws.send_bytes(frame(moving_face(0), 10.0 * burst + 1000))
        last = None
        while last is None or last["received"] < burst + 1:
            msg = json.loads(ws.receive_text())
            if msg["type"] == "result":
                last = msg
        assert last["dropped"] > 0 and last["analysed"] + last["dropped"] == burst + 1
        assert last["analysed"] < burst // 2  # at most one frame waits; the rest were replaced


def test_stream_rate_limit_drops_frames_beyond_it(make_client):
    c = make_client(max_stream_fps=2.0)
    with c.websocket_connect("/api/stream") as ws:
        for i in range(6):
            ws.send_bytes(frame(moving_face(i), 10.0 * i))
        time.sleep(1.2)
        ws.send_bytes(frame(moving_face(7), 2000.0))
        last = None
        while last is None or last["received"] < 7:
            msg = json.loads(ws.receive_text())
            if msg["type"] == "result":
                last = msg
        assert last["dropped"] >= 4


# ------------------------------------------------------------------ video jobs
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    make_test_video(path, [Sprite(sample_face(150), (50, 50), (300, 200))], seconds=1.0, fps=15)
    return path


def wait_done(c, job_id, timeout=60):
    start = time.time()
    while time.time() - start < timeout:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_video_job_life_cycle(make_client, clip):
    c = make_client()
    r = c.post("/api/videos", files={"file": ("my clip.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 202
    job = wait_done(c, r.json()["id"])
    assert job["state"] == "done" and job["progress"] == 1.0 and job["frames_done"] == 15
    assert job["summary"]["overall"]["dominant_by_mean"] == "happy"
    assert set(job["downloads"]) == {"summary.json", "timeline.png", "rows.csv", "rows.jsonl", "annotated.mp4"}
    rows = c.get(job["downloads"]["rows.csv"])
    assert rows.status_code == 200 and rows.text.count("\n") == 16 and "happy" in rows.text.splitlines()[0]
    assert c.get(job["downloads"]["timeline.png"]).content[:4] == b"\x89PNG"
    assert "my%20clip.summary.json" in c.get(job["downloads"]["summary.json"]).headers["content-disposition"]
    events = c.get(f"/api/jobs/{job['id']}/events").text
    assert events.startswith("data: ") and '"state": "done"' in events
    assert c.get(f"/api/jobs/{job['id']}/files/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert c.get(f"/api/jobs/{job['id']}/files/my clip.mp4").status_code == 404
    assert json.loads(c.get(job["downloads"]["summary.json"]).text)["video"].endswith("/my clip.mp4")
    assert c.get("/api/jobs/nope").status_code == 404
    assert c.delete(f"/api/jobs/{job['id']}").json()["state"] == "deleted"
    assert c.get(f"/api/jobs/{job['id']}").status_code == 404


def test_client_file_names_never_become_paths():
    from ferkit.serve.app import safe_name

    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..") == "video" and safe_name("/") == "video"
    assert safe_name("a/b\\c:d*.mp4") == "b_c_d_.mp4"
    assert safe_name("x" * 300 + ".mp4") == "x" * 100


def test_bad_videos_are_refused(make_client, clip, sample_bgr):
    c = make_client(max_video_mb=0.01)
    r = c.post("/api/videos", files={"file": ("big.mp4", clip.read_bytes() * 3, "video/mp4")})
    assert r.status_code == 413
    c2 = make_client()
    for data, name in ((b"not a video at all", "fake.mp4"), (jpeg(sample_bgr), "photo.mp4"), (b"", "empty.mp4")):
        r = c2.post("/api/videos", files={"file": (name, data, "video/mp4")})
        assert r.status_code == 415 and name in r.json()["error"], (name, r.json())
    assert not any(c2.app.state.jobs.jobs)


def test_jobs_are_bounded_and_cleaned_up(make_client, clip, monkeypatch):
    from ferkit.serve import jobs as jobs_mod

    release = threading.Event()
    real = jobs_mod.analyze_source

    def slow(*a, **kw):
        release.wait(30)
        return real(*a, **kw)

    monkeypatch.setattr(jobs_mod, "analyze_source", slow)
    c = make_client(max_jobs=1, max_queued=1, job_ttl_s=2.0)
    ids = []
    for _ in range(2):
        r = c.post("/api/videos", files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")})
        assert r.status_code == 202
        ids.append(r.json()["id"])
    r = c.post("/api/videos", files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 429 and "try again later" in r.json()["error"]
    assert c.get(f"/api/jobs/{ids[1]}").json()["state"] == "queued"
    jobs = c.app.state.jobs
    folders = [jobs.get(i).folder for i in ids]
    release.set()
    for job_id in ids:
        assert wait_done(c, job_id)["state"] == "done"
    # the server's sweep deletes finished jobs and their files after job_ttl_s
    deadline = time.time() + 15
    while time.time() < deadline and any(f.exists() for f in folders):
        time.sleep(0.1)
    assert not any(f.exists() for f in folders)
    assert c.get(f"/api/jobs/{ids[0]}").status_code == 404
