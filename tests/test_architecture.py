"""The layers hold (import-linter) and every command loads only what it needs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ferkit
from ferkit.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path(ferkit.__file__).parent / "samples" / "astronaut.png"
HEAVY = ("torch", "sklearn", "matplotlib")
PROBE = """
import json, runpy, sys
sys.argv = ["ferkit", *json.loads(sys.argv[1])]
try:
    runpy.run_module("ferkit", run_name="__main__")
except SystemExit:
    pass
print("LOADED " + json.dumps([m for m in ("torch", "sklearn", "matplotlib", "pandas", "cv2") if m in sys.modules]))
"""


def loaded_by(args, cwd=None) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps([str(a) for a in args])], capture_output=True,
                         text=True, cwd=cwd, timeout=300)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED ")]
    assert line, out.stderr[-2000:]
    return set(json.loads(line[-1][len("LOADED "):]))


def test_layers_and_forbidden_imports_hold():
    # in its own process: import-linter reconfigures logging in the process that runs it
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken" in out.stdout


@pytest.mark.parametrize("args", [["--version"], ["--help"]] + [[c, "--help"] for c in COMMANDS],
                         ids=lambda a: " ".join(a))
def test_version_and_help_load_nothing_heavy(args):
    assert not loaded_by(args) & set(HEAVY)


def test_analyze_images_and_videos_load_no_torch_nor_sklearn(tmp_path):
    assert not loaded_by(["analyze", SAMPLE, "--no-progress"]) & set(HEAVY)
    from ferkit.video.synthetic import Sprite, make_test_video, sample_face

    video = tmp_path / "v.mp4"
    make_test_video(video, [Sprite(sample_face(120), (20, 20), (60, 40))], 320, 240, 10, 0.5)
    assert not loaded_by(["analyze", video, "--no-progress"]) & set(HEAVY)  # summary printed: nothing drawn
    drawn = loaded_by(["analyze", video, "--out", tmp_path / "v.jsonl", "--no-progress"])
    assert "matplotlib" in drawn and not drawn & {"torch", "sklearn"}  # the timeline is drawn


def test_models_load_neither_opencv_nor_the_recognizer():
    code = "import sys, ferkit.models; print(sorted(m for m in sys.modules if m == 'cv2' or m.startswith('ferkit.infer')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
