"""Catching what C libraries (libjpeg, OpenCV, FFmpeg) print on the process's stderr, so that ferkit
can report it with the file or source it is about instead of letting it leak unattributed."""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
import threading

_LOCK = threading.Lock()
_CAPTURE = None


def run_capturing_stderr(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with file descriptor 2 pointed at a temporary file; returns its result
    and what was printed. Calls are serialised so each message belongs to its call (a line another
    thread writes to stderr meanwhile would be taken for this call's)."""
    global _CAPTURE
    with _LOCK:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no stderr to catch
            return fn(*args, **kwargs), ""
        try:
            if _CAPTURE is None:  # one file for the process's life: no file made per call
                _CAPTURE = tempfile.TemporaryFile()
                atexit.register(_CAPTURE.close)
            tmp = _CAPTURE
            tmp.seek(0)
            tmp.truncate()
            os.dup2(tmp.fileno(), 2)
            try:
                result = fn(*args, **kwargs)
            finally:
                os.dup2(saved, 2)
            tmp.seek(0)
            text = tmp.read(64 * 1024).decode("utf-8", "replace")
        finally:
            os.close(saved)
    return result, text
