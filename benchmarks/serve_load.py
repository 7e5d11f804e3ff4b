"""Load on `ferkit serve` over loopback, bounded in requests and time: concurrent photo posts, then two live
WebSocket streams at once; prints requests/s, latency percentiles, dropped frames and the server's memory
(resident set) before, between and after. Only 127.0.0.1 is ever contacted.

    python benchmarks/serve_load.py [--posters 4] [--post-seconds 20] [--max-posts 2000]
                                    [--stream-seconds 60] [--stream-fps 15]
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
from websockets.sync.client import connect

import ferkit
from ferkit.serve.launch import start_server
from ferkit.video.synthetic import Sprite, render_frame, sample_face

SAMPLE = Path(ferkit.__file__).parent / "samples" / "astronaut.png"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    p = np.percentile(values, [50, 95, 99])
    return f"p50 {p[0]:.0f} / p95 {p[1]:.0f} / p99 {p[2]:.0f} ms"


def post_load(url: str, posters: int, seconds: float, max_posts: int) -> dict:
    data = SAMPLE.read_bytes()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker():
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < stop:
                with lock:
                    if len(latencies) + errors[0] >= max_posts:
                        return
                start = time.perf_counter()
                r = client.post(url + "/api/analyze", files={"file": ("a.png", data, "image/png")})
                with lock:
                    if r.status_code == 200 and r.json()["faces"]:
                        latencies.append(1000 * (time.perf_counter() - start))
                    else:
                        errors[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(posters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"requests": len(latencies), "errors": errors[0], "per_s": len(latencies) / wall,
            "latency": percentiles(latencies)}


def stream_load(url: str, seconds: float, fps: float, n: int) -> list[dict]:
    frames = []
    sprites = [Sprite(sample_face(170), (120, 120), (330, 170))]
    for i in range(30):
        frame, _ = render_frame(640, 480, sprites, i / 10, 3.0)
        frames.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    results: list[dict] = [{} for _ in range(n)]

    def one(k: int):
        latencies, last = [], None
        with connect(url.replace("http", "ws") + "/api/stream", max_size=2**22) as ws:
            done = threading.Event()

            def reader():
                nonlocal last
                while not done.is_set():
                    try:
                        msg = json.loads(ws.recv(timeout=1))
                    except TimeoutError:
                        continue
                    except Exception:
                        return
                    if msg.get("type") == "result":
                        latencies.append(1000 * time.perf_counter() - msg["t"])
                        last = msg

            th = threading.Thread(target=reader)
            th.start()
            sent, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                t_ms = 1000 * time.perf_counter()
                ws.send(struct.pack("<d", t_ms) + frames[sent % len(frames)])
                sent += 1
                time.sleep(max(0.0, start + sent / fps - time.perf_counter()))
            time.sleep(1.0)
            done.set()
            th.join()
        results[k] = {"sent": sent, "analysed": last["analysed"] if last else 0,
                      "dropped": last["dropped"] if last else 0, "latency": percentiles(latencies),
                      "server_ms": last["processing_ms"] if last else None}

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posters", type=int, default=4)
    ap.add_argument("--post-seconds", type=float, default=20.0)
    ap.add_argument("--max-posts", type=int, default=2000)
    ap.add_argument("--stream-seconds", type=float, default=60.0, help="live streaming time, in two rounds")
    ap.add_argument("--stream-fps", type=float, default=15.0)
    ap.add_argument("--streams", type=int, default=2)
    args = ap.parse_args()
    srv = start_server(tempfile.mkdtemp(prefix="ferkit-load-"))
    server, url = srv.process, srv.url
    try:
        httpx.post(url + "/api/analyze", files={"file": ("a.png", SAMPLE.read_bytes(), "image/png")})  # warm-up
        before = rss_mb(server.pid)
        print(f"server RSS after start and one photo: {before:.0f} MB")
        p = post_load(url, args.posters, args.post_seconds, args.max_posts)
        middle = rss_mb(server.pid)
        print(f"photos: {args.posters} clients for {args.post_seconds:.0f} s: {p['requests']} requests "
              f"({p['per_s']:.1f}/s), {p['errors']} errors, latency {p['latency']}; server RSS {middle:.0f} MB")
        rounds = []
        for round_no in (1, 2):  # the same load twice: memory that grows with use shows as growth in round 2
            half = args.stream_seconds / 2
            for k, r in enumerate(stream_load(url, half, args.stream_fps, args.streams)):
                print(f"round {round_no}, live stream {k + 1}: {r['sent']} frames sent at {args.stream_fps:g} fps over "
                      f"{half:.0f} s, {r['analysed']} analysed, {r['dropped']} dropped, latency {r['latency']}, "
                      f"server {r['server_ms']} ms per frame")
            p2 = post_load(url, args.posters, min(10.0, args.post_seconds), args.max_posts)
            rounds.append(rss_mb(server.pid))
            print(f"round {round_no}: then {p2['requests']} photos ({p2['per_s']:.1f}/s); server RSS {rounds[-1]:.0f} MB")
        print(f"server RSS: {before:.0f} MB at start, {middle:.0f} MB after the photo load, {rounds[0]:.0f} MB after "
              f"round 1, {rounds[1]:.0f} MB after round 2 (growth in round 2: {rounds[1] - rounds[0]:+.0f} MB)")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
