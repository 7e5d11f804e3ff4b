"""Videos and live streams: reading, tracking, smoothing, per-frame results, annotated video,
timelines, summaries and video-level scoring."""

from ferkit.core.video_file import VIDEO_SUFFIXES, VideoFrame, VideoInfo, VideoReader, VideoReadError, is_video
from ferkit.infer.stream import FrameResult, StreamAnalyzer, VideoIterator, VideoOptions
from ferkit.infer.tracking import FaceTracker
from ferkit.video.writer import VideoWriter

__all__ = [
    "VIDEO_SUFFIXES",
    "FaceTracker",
    "FrameResult",
    "StreamAnalyzer",
    "VideoFrame",
    "VideoInfo",
    "VideoIterator",
    "VideoOptions",
    "VideoReadError",
    "VideoReader",
    "VideoWriter",
    "is_video",
]
