"""The live WebSocket of the web app: camera frames in, tracked and smoothed faces out, per connection.

Protocol. The page sends each frame as a binary message: 8 bytes of little-endian float64, the frame's time in
milliseconds, then the JPEG. It may send a text message ``{"type": "options", "smooth": true|false}`` (the
tracking restarts with the new smoothing). The server answers every frame it analyses with
``{"type": "result", "t": ms, "faces": [...], "processing_ms": ..., "received": n, "analysed": n, "dropped": n}``
and a frame it cannot use with ``{"type": "error", "message": ...}``. The newest frame wins: while a frame is
being analysed, frames that arrive replace the waiting one (each replaced frame counts as dropped), so nothing
queues without bound; frames faster than the rate limit are dropped too."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from typing import Any

from anyio import to_thread
from starlette.websockets import WebSocket, WebSocketDisconnect

from ferkit.core.errors import FerkitError
from ferkit.core.images import decode_image
from ferkit.core.inputs import array_to_bgr
from ferkit.infer.options import VideoOptions
from ferkit.infer.recognizer import Recognizer

HEADER = struct.Struct("<d")
SMOOTH_HALF_LIFE_S = 0.5


class LiveConnection:
    """One page's camera: its own face stream (tracking and smoothing state) and counters."""

    def __init__(self, ws: WebSocket, recognizer: Recognizer, max_frame_bytes: int, max_pixels: int, max_fps: float):
        self.ws, self.recognizer = ws, recognizer
        self.max_frame_bytes, self.max_pixels, self.min_gap = max_frame_bytes, max_pixels, 1.0 / max_fps
        self.smooth = True
        self.stream = self._open()
        self.pending: tuple[float, bytes] | None = None
        self.ready = asyncio.Event()
        self.closed = False
        self.received = self.analysed = self.dropped = 0
        self.last_accepted = 0.0

    def _open(self):
        return self.recognizer.open_stream(VideoOptions(smoothing_half_life_s=SMOOTH_HALF_LIFE_S if self.smooth
                                                        else 0.0))

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self.ws.send_text(json.dumps(message))
        except (WebSocketDisconnect, RuntimeError):  # the page went away while a frame was analysed
            self.closed = True
            self.ready.set()

    async def receive_loop(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is not None:
                    await self._control(message["text"])
                elif message.get("bytes") is not None:
                    await self._frame(message["bytes"])
        except WebSocketDisconnect:
            pass
        finally:
            self.closed = True
            self.ready.set()

    async def _control(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError:
            await self.send({"type": "error", "message": "a text message must be JSON, e.g. "
                                                         '{"type": "options", "smooth": false}'})
            return
        if not isinstance(msg, dict) or msg.get("type") != "options" or not isinstance(msg.get("smooth"), bool):
            await self.send({"type": "error", "message": 'unknown message; send {"type": "options", "smooth": '
                                                         "true|false} or binary frames"})
            return
        self.smooth = msg["smooth"]
        self.stream = self._open()
        await self.send({"type": "options", "smooth": self.smooth})

    async def _frame(self, data: bytes) -> None:
        self.received += 1
        if len(data) <= HEADER.size:
            await self.send({"type": "error", "message": "a frame is 8 bytes of time (float64, ms) and a JPEG"})
            return
        if len(data) > self.max_frame_bytes:
            await self.send({"type": "error", "message": f"frame of {len(data) // 1024} KB is over the "
                                                         f"{self.max_frame_bytes // 1024} KB limit; send smaller JPEGs"})
            return
        now = time.monotonic()
        if now - self.last_accepted < self.min_gap:
            self.dropped += 1
            return
        self.last_accepted = now
        if self.pending is not None:
            self.dropped += 1  # the newest frame wins
        (t_ms,) = HEADER.unpack_from(data)
        self.pending = (t_ms, data[HEADER.size :])
        self.ready.set()

    async def process_loop(self) -> None:
        while not self.closed:
            await self.ready.wait()
            self.ready.clear()
            if self.closed or self.pending is None:
                continue
            t_ms, jpeg = self.pending
            self.pending = None
            start = time.perf_counter()
            try:
                result, width, height = await to_thread.run_sync(self._analyse, t_ms, jpeg)
            except FerkitError as exc:
                await self.send({"type": "error", "message": str(exc), "t": t_ms})
                continue
            self.analysed += 1
            await self.send({"type": "result", "t": t_ms, "faces": [f.to_dict() for f in result.faces],
                             "width": width, "height": height,
                             "processing_ms": round(1000 * (time.perf_counter() - start), 1),
                             "received": self.received, "analysed": self.analysed, "dropped": self.dropped})

    def _analyse(self, t_ms: float, jpeg: bytes):
        array, _ = decode_image(jpeg, "frame")
        if array.shape[0] * array.shape[1] > self.max_pixels:
            raise FrameTooLarge(f"a frame of {array.shape[1]}x{array.shape[0]} pixels is over the limit")
        bgr = array_to_bgr(array, "bgr")
        return self.stream.process(bgr, t_ms / 1000.0), int(bgr.shape[1]), int(bgr.shape[0])


class FrameTooLarge(FerkitError):
    pass


async def serve_live(ws: WebSocket, recognizer: Recognizer, max_frame_bytes: int, max_pixels: int,
                     max_fps: float) -> None:
    await ws.accept()
    conn = LiveConnection(ws, recognizer, max_frame_bytes, max_pixels, max_fps)
    receiver = asyncio.create_task(conn.receive_loop())
    try:
        await conn.process_loop()
    finally:
        receiver.cancel()
        conn.stream.close()
