"""The lexicon report from a constructed vocabulary result: shares, confusion, the worst, the bins."""

from __future__ import annotations

import csv
import io

from core.report import lexicon


def _symbol(token, gloss, before, after, negative=40_000.0, residual=1e-9):
    return {"token": token, "symbol_id": token[7:-1], "gloss": gloss, "output_fit_residual": residual,
            "quality_before": {"mrr_positive": 1 / before, "median_rank_positive": before,
                               "median_rank_negative": negative},
            "quality_after": None if after is None else {"mrr_positive": 1 / after, "median_rank_positive": after,
                                                          "median_rank_negative": negative}}


def _data(after=True):
    symbols = [_symbol("[BLISS_1]", "wool shop", 3.0, 1.0 if after else None),
               _symbol("[BLISS_2]", "post office", 40.0, 7.0 if after else None, negative=12.0),
               _symbol("[BLISS_3]", "<b>ice</b> | cream", 900.0, 2.0 if after else None, residual=3.5)]
    tokens = [s["token"] for s in symbols]
    before = {"tokens": tokens, "own_rank": [3.0, 40.0, 900.0], "cells": [[0, 1, 12.0], [1, 2, 30.0], [2, 0, 5000.0]]}
    data = {"symbols": symbols, "confusion_before": before}
    if after:
        data["confusion_after"] = {"tokens": tokens, "own_rank": [1.0, 7.0, 2.0],
                                   "cells": [[0, 1, 3.0], [1, 2, 50.0], [2, 0, 800.0]]}
    return data


def test_rows_read_own_ranks_and_the_best_other_token():
    rows = lexicon.lexicon_rows(_data())
    assert [r["rank_before"] for r in rows] == [3.0, 40.0, 900.0] and [r["rank_after"] for r in rows] == [1, 7, 2]
    # On post office's contexts [BLISS_1] ranks 12 before (better than its own 40) and 3 after (better than 7).
    assert rows[1]["confused_with_before"] == "[BLISS_1]" and rows[1]["confused_rank_before"] == 12.0
    assert rows[1]["confused_with_after"] == "[BLISS_1]"
    assert rows[2]["confused_with_before"] == "[BLISS_2]" and rows[2]["confused_with_after"] is None
    assert rows[0]["confused_with_before"] is None


def test_shares_and_the_worst_with_reasons():
    summary = lexicon.lexicon_summary(lexicon.lexicon_rows(_data()))
    assert summary["found_before"] == round(1 / 3, 4) and summary["found_after"] == round(2 / 3, 4)
    assert summary["confused_before"] == round(2 / 3, 4) and summary["confused_after"] == round(1 / 3, 4)
    assert summary["judged"] == "after" and [w["token"] for w in summary["worst"]] == ["[BLISS_2]", "[BLISS_3]",
                                                                                         "[BLISS_1]"]
    why = " ".join(summary["worst"][0]["reasons"])
    assert "median rank on its own contexts is 7 (not in the top 5)" in why and "[BLISS_1] ranks better" in why
    assert "negative contexts: median rank 12" in why
    assert "residual 3.5" in " ".join(summary["worst"][1]["reasons"])


def test_before_only_is_judged_before_and_says_nothing_of_after():
    rows = lexicon.lexicon_rows(_data(after=False))
    summary = lexicon.lexicon_summary(rows)
    assert summary["judged"] == "before" and summary["measured_after"] == 0 and summary["found_after"] is None
    assert all(line.startswith("Before") for line in lexicon.summary_lines(summary))


def test_histogram_bins_and_csv_columns():
    rows = lexicon.lexicon_rows(_data())
    figure = lexicon.histogram(rows)
    before, after = figure["data"]
    assert before["x"][:3] == ["1", "2–5", "6–10"] and sum(before["y"]) == 3 and sum(after["y"]) == 3
    assert before["y"][1] == 1 and before["y"][3] == 1 and before["y"][4] == 1   # 3; 40; 900
    assert after["y"][0] == 1 and after["y"][1] == 1 and after["y"][2] == 1        # 1; 2; 7
    table = list(csv.DictReader(io.StringIO(lexicon.lexicon_csv(rows))))
    assert list(table[0]) == lexicon.CSV_COLUMNS and table[2]["gloss"] == "<b>ice</b> | cream"


def test_rank_counts_are_the_histogram_s_numbers_and_leave_out_a_phase_not_measured():
    rows = lexicon.lexicon_rows(_data())
    bins, figure = lexicon.rank_counts(rows), lexicon.histogram(rows)
    assert bins["labels"] == figure["data"][0]["x"] and len(bins["labels"]) == len(lexicon.BINS)
    assert [bins["counts"]["before"], bins["counts"]["after"]] == [t["y"] for t in figure["data"]]
    assert bins["counts"]["before"] == [0, 1, 0, 1, 1, 0, 0]   # 3; 40; 900
    assert list(lexicon.rank_counts(lexicon.lexicon_rows(_data(after=False)))["counts"]) == ["before"]
    assert lexicon.rank_counts([])["counts"] == {}


def test_markdown_and_html_keep_user_text_literal():
    data = _data()
    text = lexicon.lexicon_markdown(data)
    assert text.startswith("# Lexicon report: 3 symbols") and "&lt;b&gt;ice&lt;/b&gt; \\| cream" in text
    assert text.count("\n| [BLISS_") + text.count("\n| \\[BLISS") == 3
    page = lexicon.lexicon_html(data)
    assert "<b>ice</b>" not in page and "&lt;b&gt;ice&lt;/b&gt;" in page and "Plotly.newPlot" in page
