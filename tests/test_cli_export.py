"""`ferkit export`: outputs checked before any work (never the checkpoint, .onnx only, the opset range)."""

import os

import pytest
import torch

from ferkit.cli import main
from ferkit.core.labels import EMOTIONS
from ferkit.models import create
from ferkit.models.checkpoint import save_checkpoint

PRE = {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25}


@pytest.fixture
def ck(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "ck.pt", create("vgg_compact", widths=(4, 8)), EMOTIONS, PRE)


def error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_export_never_writes_over_its_checkpoint(ck, capsys):
    before = ck.read_bytes()
    assert main(["export", str(ck), "--out", str(ck), "--overwrite"]) == 2
    assert "is the checkpoint" in error(capsys)
    assert ck.read_bytes() == before
    alias = ck.parent / "sub" / ".." / "ck.pt"
    assert main(["export", str(ck), "--out", str(alias), "--overwrite"]) == 2
    assert ck.read_bytes() == before


def test_export_outputs_are_checked_first(ck, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_text("keep")
    assert main(["export", str(ck), "--out", str(out)]) == 2
    assert "exists; use --overwrite" in error(capsys) and out.read_text() == "keep"
    (tmp_path / "dir.onnx").mkdir()
    assert main(["export", str(ck), "--out", str(tmp_path / "dir.onnx"), "--overwrite"]) == 2
    assert "is a folder" in error(capsys)
    assert main(["export", str(ck), "--out", str(ck / "x.onnx")]) == 2
    assert "cannot create its folder" in error(capsys)
    assert main(["export", str(ck), "--out", str(tmp_path / "m.txt")]) == 2
    assert ".onnx" in error(capsys)
    for opset in ("3", "99"):
        assert main(["export", str(ck), "--out", str(tmp_path / "o.onnx"), "--opset", opset]) == 2
        assert "opset must be" in error(capsys)
    assert not (tmp_path / "o.onnx").exists()
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            assert main(["export", str(ck), "--out", str(ro / "m.onnx")]) == 2
            assert "no permission" in error(capsys)
        finally:
            ro.chmod(0o700)
        assert not list(ro.iterdir())
    # the model card files beside --out are checked before the export too
    (tmp_path / "c.md").write_text("keep")
    assert main(["export", str(ck), "--out", str(tmp_path / "c.onnx"), "--card-data", str(tmp_path / "d.npz")]) == 2
    assert "c.md: exists" in error(capsys)
    assert not (tmp_path / "c.onnx").exists()
    # and the card's dataset, so a missing one leaves no model without its card
    assert main(["export", str(ck), "--out", str(tmp_path / "d.onnx"), "--card-data", str(tmp_path / "d.npz")]) == 2
    assert "--card-data" in error(capsys) and not (tmp_path / "d.onnx").exists()
    # a good export still works, into a folder it makes
    assert main(["export", str(ck), "--out", str(tmp_path / "new" / "m.onnx"), "--opset", "13"]) == 0
    assert (tmp_path / "new" / "m.onnx").stat().st_size > 1000
