"""benchmarks/side_by_side.py: one row per model with its two medians, from alternating rounds."""

import importlib.util
import re
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "side_by_side.py"


def test_side_by_side_prints_a_row_of_medians_per_model(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("side_by_side_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["side_by_side.py", "default", "fast", "--rounds", "2", "--seconds", "0.05"])
    module.main()
    out = capsys.readouterr().out
    assert "2 alternating rounds" in out
    rows = {m: re.search(rf"^\| {m} \| ([\d,]+) \| ([\d,]+) \|$", out, re.MULTILINE) for m in ("default", "fast")}
    assert all(rows.values()), out
    assert all(int(r.group(i).replace(",", "")) > 0 for r in rows.values() for i in (1, 2))
