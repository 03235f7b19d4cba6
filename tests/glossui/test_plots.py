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


def test_a_large_vocabulary_keeps_its_ranks_in_the_hover_and_a_bounded_height():
    size = 500
    confusion = {"tokens": [f"[BLISS_{i}]" for i in range(size)], "symbols": [f"gloss {i}" for i in range(size)],
                 "median_rank": [[1.0 if i == j else 1000.0 + j for j in range(size)] for i in range(size)]}
    fig = plots.confusion_figure(confusion)
    heat = fig.data[0]
    assert not heat.texttemplate                   # no 250,000 printed labels
    assert heat.text[0][1] == "1,001" and "%{text}" in heat.hovertemplate   # the rank is still there, on hover
    assert fig.layout.height <= 120 + plots.CONFUSION_MAX_PX
    small = plots.confusion_figure({**confusion, "tokens": confusion["tokens"][:3], "symbols": confusion["symbols"][:3],
                                    "median_rank": [row[:3] for row in confusion["median_rank"][:3]]})
    assert small.data[0].texttemplate == "%{text}" and small.layout.height == max(320, 120 + 48 * 3)


def test_a_sparse_confusion_draws_its_shown_symbols():
    """The sparse form (core.experiment.vocabulary.confusion): own ranks on the diagonal, the kept cells, "–" elsewhere."""
    confusion = {"tokens": ["[A]", "[B]", "[C]", "[D]"], "symbols": ["a", "b", "c", "d"], "top_k": 1,
                 "own_rank": [1.0, 2.0, 1.0, 4.0], "cells": [[1, 2, 3.0], [3, 0, 7.0], [0, 3, 900.0]],
                 "shown": [0, 1, 2, 3]}
    heat = plots.confusion_figure(confusion).data[0]
    assert list(heat.y) == ["[A]", "[B]", "[C]", "[D]"] and list(heat.x) == ["a", "b", "c", "d"]
    assert [list(r) for r in heat.text] == [["1", "–", "–", "900"], ["–", "2", "3", "–"], ["–", "–", "1", "–"],
                                            ["7", "–", "–", "4"]]
    some = plots.confusion_figure({**confusion, "shown": [1, 2]}, "Confusion")
    heat = some.data[0]
    assert list(heat.y) == ["[B]", "[C]"] and [list(r) for r in heat.text] == [["2", "3"], ["–", "1"]]
    assert "the 2 most confused of 4 symbols" in some.layout.title.text
    assert not plots.confusion_figure({**confusion, "shown": []}).data


def test_the_rank_histogram_draws_each_phase_by_pattern_and_count_and_escapes_labels():
    bins = {"labels": ["1", "2–5", "<b>x</b>"], "counts": {"before": [0, 1, 2], "after": [3, 0, 0]}}
    fig = plots.rank_histogram(bins, "Ranks <i>of</i> tokens")
    assert [t.type for t in fig.data] == ["bar", "bar"] and [t.name for t in fig.data] == ["before fine-tuning",
                                                                                         "after fine-tuning"]
    assert [list(t.y) for t in fig.data] == [[0, 1, 2], [3, 0, 0]] and list(fig.data[0].text) == ["0", "1", "2"]
    assert fig.data[0].marker.pattern.shape != fig.data[1].marker.pattern.shape   # not by colour alone
    assert list(fig.data[0].x)[2] == "&lt;b&gt;x&lt;/b&gt;" and "&lt;i&gt;" in fig.layout.title.text
    empty = plots.rank_histogram({"labels": ["1"], "counts": {}})
    assert not empty.data and "No ranks yet" in empty.layout.annotations[0].text
