"""``hub eval --sweep`` / ``--plot``: precision is undefined where nothing is answered."""

from __future__ import annotations

import io
import math

import numpy as np

from kb.cli import _print_sweep
from kb.evaluate import Evaluation, sweep, sweep_figure


def evaluation() -> Evaluation:
    """Four questions, three right; nobody is answered above a threshold of 0.9."""
    return Evaluation(
        confidence=np.array([0.2, 0.5, 0.7, 0.85]),
        correct=np.array([False, True, True, True]),
        oos_confidence=np.array([0.3]),
        latency_ms=np.array([1.0]),
        train_s=0.1,
    )


def test_sweep_leaves_precision_undefined_where_nothing_is_answered() -> None:
    rows = {r["threshold"]: r for r in sweep(evaluation())}
    assert rows[0.5]["precision"] == 1.0 and rows[0.2]["precision"] == 0.75
    assert rows[0.9]["coverage"] == 0.0 and rows[0.9]["precision"] is None
    assert rows[1.0]["precision"] is None
    out = io.StringIO()
    _print_sweep(list(rows.values()), out)
    last = out.getvalue().splitlines()[-1].split()
    assert last[:3] == ["1.00", "0.000", "-"]


def test_the_plot_has_a_gap_and_a_zoomed_precision_axis() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sweep(evaluation())
    fig = sweep_figure(rows, 0.37)
    try:
        precision_axis = fig.axes[0]
        (line,) = [ln for ln in precision_axis.get_lines() if ln.get_label().startswith("precision")]
        ys = dict(zip(line.get_xdata(), line.get_ydata(), strict=True))
        assert math.isnan(ys[0.9]) and math.isnan(ys[1.0]) and ys[0.5] == 1.0
        low, high = precision_axis.get_ylim()
        assert 0.6 <= low <= 0.75 and high >= 1.0  # zoomed to the defined values (0.75-1), not 0-1
    finally:
        plt.close(fig)


def test_plot_writes_a_png(tmp_path) -> None:
    from kb.evaluate import plot_sweep

    plot_sweep(sweep(evaluation()), tmp_path / "s.png", 0.37)
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
