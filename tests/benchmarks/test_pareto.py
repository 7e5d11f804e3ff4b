"""benchmarks/pareto.py: label grouping and redrawing from an earlier run's CSV (no measuring)."""

import importlib.util
import sys
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pareto.py"


def load_pareto():
    spec = importlib.util.spec_from_file_location("pareto_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coinciding_points_share_one_label_and_distant_ones_keep_theirs():
    pareto = load_pareto()
    groups = pareto.label_groups([(1000, 68.4, "a"), (1010, 68.5, "b"), (5000, 68.4, "c"), (1000, 60.0, "d")],
                                 log_x=0.04, y=0.6)
    assert sorted(text for _, _, text in groups) == ["b\na", "c", "d"]  # highest first


def test_replot_draws_the_plot_and_prints_the_table_from_a_csv(tmp_path, monkeypatch, capsys):
    rows = [{"model": "bundled: default", "accuracy": 0.684, "n": 3589, "macs": 81.6e6, "params": 1173479,
             "faces_per_s_b1": 1000.0, "faces_per_s_b64": 1150.0},
            {"model": "fer 25.10.3 (Keras fp32)", "accuracy": 0.582, "n": 3589, "macs": None, "params": 58423,
             "faces_per_s_b1": 450.0, "faces_per_s_b64": 1270.0},
            {"model": "resnet-s0", "accuracy": 0.356, "n": 3589, "macs": 312e6, "params": 2793863,
             "faces_per_s_b1": 265.0, "faces_per_s_b64": 295.0}]
    csv = tmp_path / "pareto.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    monkeypatch.setattr(sys, "argv", ["pareto.py", "--replot", str(csv), "--out", str(tmp_path / "fig")])
    load_pareto().main()
    out = capsys.readouterr().out
    assert "| bundled: default | 68.40% | 1,000 | 1,150 | 81.6M | 1,173,479 |" in out
    assert "| fer 25.10.3 (Keras fp32) | 58.20% | 450 | 1,270 | n/a | 58,423 |" in out
    assert (tmp_path / "fig" / "pareto.png").stat().st_size > 10_000
