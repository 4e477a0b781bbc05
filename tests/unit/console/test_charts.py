from __future__ import annotations

from hub.console.charts import bar_chart, hbar_chart


def test_bar_chart_draws_one_bar_per_value_scaled_to_the_peak() -> None:
    svg = str(bar_chart(["a", "b", "c"], [0, 5, 10], title="Per day", height=212))
    assert svg.startswith('<svg class="chart"')
    assert 'role="img" aria-label="Per day"' in svg
    assert svg.count("<rect ") == 3
    assert 'height="178.0"><title>c: 10</title>' in svg  # the peak fills the plot
    assert 'height="89.0"><title>b: 5</title>' in svg


def test_labels_are_escaped() -> None:
    svg = str(hbar_chart([("<script>", 3)], title="x & y"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'aria-label="x &amp; y"' in svg


def test_empty_chart_says_so() -> None:
    assert "nothing yet" in str(hbar_chart([], title="Empty"))
