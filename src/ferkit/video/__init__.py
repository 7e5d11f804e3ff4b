"""Videos and live streams end to end: the frame loop over files, cameras and stream URLs with
per-frame results, annotated video, summaries and timelines; resume; writing video; video-level
scoring; synthetic test videos. Frame sources live in ``ferkit.core``; streams (tracking and
smoothing) in ``ferkit.infer``."""

from ferkit.video.loop import VideoInterrupted, analyze_source
from ferkit.video.outputs import VideoOutputs, plan_outputs
from ferkit.video.summary import SummaryBuilder
from ferkit.video.writer import VideoWriter

__all__ = ["SummaryBuilder", "VideoInterrupted", "VideoOutputs", "VideoWriter", "analyze_source", "plan_outputs"]
