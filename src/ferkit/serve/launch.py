"""Start ``ferkit serve`` in a child process on a free loopback port and wait until it answers: for the
browser tests, the load benchmark and anyone scripting the server."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    process: subprocess.Popen
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_server(work_dir: str | Path, port: int | None = None, args: tuple[str, ...] = (),
                 timeout_s: float = 60.0) -> ServerProcess:
    """``python -m ferkit.cli serve`` on 127.0.0.1, answering ``/api/health`` when this returns."""
    import httpx

    port = port or free_port()
    process = subprocess.Popen([sys.executable, "-m", "ferkit.cli", "serve", "--port", str(port), "--work-dir",
                                str(work_dir), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = ServerProcess(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ferkit serve exited with code {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(server.url + "/api/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"ferkit serve did not answer in {timeout_s:g} s")


@contextlib.contextmanager
def running_server(work_dir: str | Path, **kw) -> Iterator[ServerProcess]:
    server = start_server(work_dir, **kw)
    try:
        yield server
    finally:
        server.stop()
