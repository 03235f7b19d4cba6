"""The vocabulary's confusion heatmap: cells, labels, escaping, the empty state; no torch needed."""

from __future__ import annotations

import math

from glossui import plots


def test_confusion_heatmap_has_one_cell_per_token_and_symbol():
    confusion = {"tokens": ["[BLISS_1]", "<b>[X]</b>"], "symbols": ["wool shop", "lowness"],
                 "median_rank": [[1.0, 40213.0], [2.5, None]]}
    fig = plots.confusion_figure(confusion)
    heat = fig.data[0]
    assert list(heat.y) == ["[BLISS_1]", "&lt;b&gt;[X]&lt;/b&gt;"] and list(heat.x) == ["wool shop", "lowness"]
    assert heat.z[0][0] == 0.0 and math.isclose(heat.z[0][1], math.log10(40213.0)) and heat.z[1][1] is None
    assert [list(r) for r in heat.text] == [["1", "40,213"], ["2.5", "–"]]
    assert heat.colorbar.ticktext[0] == "1" and fig.layout.yaxis.autorange == "reversed"


def test_no_matrix_shows_a_message():
    for empty in (None, {}, {"median_rank": []}):
        fig = plots.confusion_figure(empty)
        assert not fig.data and "No confusion matrix yet" in fig.layout.annotations[0].text
