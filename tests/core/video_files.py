"""Test videos written with PyAV directly (the core layer's tests need no other part of ferkit)."""

from fractions import Fraction

import av
import numpy as np

CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".ts": "libx264", ".webm": "libvpx-vp9",
          ".avi": "mjpeg"}


def write_video(path, frames, fps=30, codec=None, gop=None, rotation=None, hflip=False, metadata=None,
                container_options=None):
    """Frames (BGR arrays) at a constant rate, written with PyAV."""
    codec = codec or CODECS[path.suffix]
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "bf": "0", **({"g": str(gop)} if gop else {})}
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=hflip)
        for key, value in (metadata or {}).items():
            stream.metadata[key] = value
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def levels(n, size=(96, 64)):
    return [np.full((size[1], size[0], 3), (i * 8) % 256, np.uint8) for i in range(n)]
