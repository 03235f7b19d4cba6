"""core/experiment/report.py: the comparison report as Markdown and as one self-contained HTML page.

On a result made by hand (two strategies × two seeds, with histories and hostile text) and on a
real tiny comparison: the verdict comes first, user text is escaped, plotly.js is inline once and
nothing is fetched from the web; in Chromium with the network blocked every chart is drawn.
``compare --out DIR`` writes the four files."""

from __future__ import annotations

import html
import json
import os
import re
import statistics
from pathlib import Path

import pytest

from core.report import document as report
from core.report import tables, text

from core.experiment.analysis import results, verdict

CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<script>window.__pwned = 1</script>"
SPEC_TITLE = f"wool shop {HOSTILE}"
LABEL = f"Averaged {HOSTILE}"


def _history(losses: list[float], train: list[float]) -> list[dict]:
    steps = len(losses) - 1
    return [{"type": "step", "step": s, "epoch": s / 2, "max_steps": steps, "eval_loss": e,
             "loss": (train[s - 1] if s else None)} for s, e in enumerate(losses)]


def _row(strategy: str, label: str, per_seed: list[dict]) -> dict:
    row = {"strategy": strategy, "label": label, "seeds": len(per_seed), "calculated_output": True, "stopped": False,
           "flags": [], "cos_input_vs": {}, "cos_output_vs": {}}
    for k in results.numeric_keys():
        values = [m.get(k) for m in per_seed if m.get(k) is not None]
        mean = statistics.fmean(values) if values else None
        std = statistics.stdev(values) if len(values) > 1 else None
        row[k] = row[f"{k}_mean"] = mean
        row[f"{k}_std"] = std
        row[f"{k}_ci95"] = [mean - 3 * std, mean + 3 * std] if std else None
    return row


def hand_result() -> dict:
    """Two strategies × two seeds; the second seed of ``random_both`` stopped one step early."""
    numbers = {("average", 0): 0.30, ("average", 1): 0.34, ("random_both", 0): 0.90, ("random_both", 1): 0.80}
    members = []
    for (strategy, seed), loss in numbers.items():
        curve = [2.0 + seed, 1.0 + loss, loss, loss + 0.01]
        if (strategy, seed) == ("random_both", 1):
            curve = curve[:3]
        row = {"strategy": strategy, "seed": seed, "eval_loss": loss, "train_loss": loss - 0.1, "best_epoch": 1.0,
               "mrr_positive_before": 0.1, "mrr_positive_after": 0.5 - loss / 2,
               "median_rank_negative_after": 400.0 + seed, "gen_agreement_after": 0.8}
        members.append({"name": f"{strategy}-s{seed}", "strategy": strategy, "seed": seed, "row": row,
                        "finetune": {"history": _history(curve, [3.0, 2.0, 1.5][:len(curve) - 1])}})
    rows = [_row("average", LABEL, [m["row"] for m in members if m["strategy"] == "average"]),
            _row("random_both", "Random input & output", [m["row"] for m in members if m["strategy"] == "random_both"])]
    verdict.judge(rows, [m["row"] for m in members])  # each row's place on the two axes
    rows[1]["flags"] = ["not_converged"]
    sentence = f"{LABEL} is best (2 seeds): separated on fit from Random input & output."
    return {"kind": "compare", "model": "tiny-random", "spec": SPEC_TITLE,
            "config": {"strategies": ["average", "random_both"], "seeds": 2, "leak_rank": 10, "max_new_tokens": 4,
                       "finetune": {"learning_rate": 0.0003, "epochs": 2, "restore_best": True, "seed": 0},
                       "init": {"strategy": "average", "seed": 0, "negative_logit": -10.0}},
            "verdict": {"metric": "eval_loss", "winner": "average", "tied_with_winner": [], "sentence": sentence,
                        "flags": [{"strategy": "random_both", "flag": "not_converged", "detail": "train longer"}],
                        "seeds_to_separate": None},
            "rows": rows, "members": members, "markdown": "", "seconds": 12.5, "stopped": False}


def _metrics_with_values(rows: list[dict]) -> list[results.Metric]:
    return [m for m in results.METRICS if any(isinstance(r.get(k), (int, float)) for r in rows for k in m.keys())]


# -- Markdown ------------------------------------------------------------------------------------------

def test_markdown_starts_with_the_verdict_then_flags_table_settings_model_and_spec():
    result = hand_result()
    md = report.report_markdown(result)
    first = md.splitlines()[0]
    assert first.startswith("**Verdict.** ") and "is best (2 seeds): separated on fit" in first
    assert "&lt;script&gt;" in first and HOSTILE not in md  # no raw HTML from user text
    assert md.index("## Fit and meaning") < md.index("## Flags") < md.index("## Results") < md.index("## Settings")
    axes = md[md.index("## Fit and meaning"):md.index("## Flags")]
    assert "*Fit*: how well does the fine-tuned model predict the validation sentences that use the token (" in axes
    assert "| Strategy | Fit: Validation loss | Fit: verdict | Meaning: MRR, testing-positive after fine-tuning |" in axes
    row = result["rows"][0]
    loss = text.md(f"0.3200 [{row['eval_loss_ci95'][0]:.4f}, {row['eval_loss_ci95'][1]:.4f}]")
    assert f"| {text.md(LABEL)} | {loss} | tied |" in axes  # two seeds: a paired interval too wide to separate
    assert "| Random input & output | 0.8500 \\[" in axes
    assert "- **Random input & output**: had not converged (train longer)" in md
    assert tables.markdown_table(result["rows"]).splitlines()[0] in md
    assert "| Fine-tuning | learning rate 0.0003 · epochs 2 · restore best yes |" in md
    assert "| Initialization | negative logit -10 |" in md  # the per-member strategy and seed are left out
    assert "- Model: tiny-random" in md and "- Spec: wool shop &lt;script&gt;" in md and "- Time: 12.5 s" in md


# -- HTML ----------------------------------------------------------------------------------------------

def _check_page(page: str, result: dict) -> None:
    from plotly.offline import get_plotlyjs

    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    # plotly.js inline exactly once, and nothing fetched from the web: no src/href to http(s) or //host,
    # no stylesheet link, no @import, no CSS url().
    assert page.count(get_plotlyjs()[:300]) == 1 and 'src="' not in page.split("</head>")[1]
    html_only = page.replace(get_plotlyjs(), "")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html_only, re.I)
    assert "<link" not in html_only and "@import" not in html_only and "url(" not in html_only
    assert "cdn" not in html_only.lower()
    # The verdict first (after the title), escaped like all user text.
    body = page.split("<body>")[1]
    sentence = html.escape(result["verdict"]["sentence"])
    assert re.sub(r"<h1>.*?</h1>\s*", "", body.strip().removeprefix("<main>").strip(), count=1).startswith(
        f'<p class="verdict" id="verdict"><strong>Verdict.</strong> {sentence}</p>')
    assert HOSTILE not in page and "<script>window.__pwned" not in page
    # Headings in order; every chart in a figure with a caption.
    levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", html_only)]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:]))
    assert html_only.count('<div id="c-chart-') == html_only.count("<figcaption>") > 0


def _figures(page: str) -> dict:
    text = re.search(r'<script type="application/json" id="report-figures">(.*?)</script>', page, re.S).group(1)
    return json.loads(text)


def test_html_is_self_contained_escaped_and_has_every_chart():
    result = hand_result()
    page = report.report_html(result)
    _check_page(page, result)
    assert html.escape(SPEC_TITLE) in page and html.escape(LABEL) in page
    figures = _figures(page)
    metrics = _metrics_with_values(result["rows"])
    assert len(figures) == len(results.AXES) + len(report.CURVES) + len(metrics)
    # The two axes first, one chart each: fit (validation loss), then meaning (MRR, median rank on
    # the negatives: side by side, the rank on a log scale), bars with the 95 % interval as whiskers.
    fit, meaning = figures["c-chart-1"], figures["c-chart-2"]
    assert (fit["layout"]["title"]["text"], meaning["layout"]["title"]["text"]) == ("Fit", "Meaning")
    row = result["rows"][0]
    assert fit["data"][0]["y"][0] == pytest.approx(row["eval_loss"])
    assert fit["data"][0]["error_y"]["array"][0] == pytest.approx(row["eval_loss_ci95"][1] - row["eval_loss"])
    assert [t["yaxis"] for t in meaning["data"]] == ["y", "y2"] and meaning["layout"]["yaxis2"]["type"] == "log"
    assert meaning["data"][0]["y"] == pytest.approx([r["mrr_positive_after"] for r in result["rows"]])
    assert meaning["data"][1]["y"] == pytest.approx([r["median_rank_negative_after"] for r in result["rows"]])
    assert "Fit and meaning</h2><p>The verdict judges each strategy on two axes. Fit: how well" in page
    assert "Fit and meaning</h2>" in page and page.index("Fit and meaning</h2>") < page.index("Loss curves</h2>")
    # Validation loss: per strategy a band (highest, lowest seed) and the mean line.
    validation = figures["c-chart-3"]
    assert validation["layout"]["title"]["text"] == "Validation loss"
    assert [t.get("fill") for t in validation["data"]] == [None, "tonexty", None] * 2
    mean = validation["data"][2]
    assert mean["name"] == html.escape(LABEL)  # plotly shows entities as the characters they stand for
    assert mean["y"] == pytest.approx([2.5, 1.32, 0.32, 0.33])
    # Bars: the validation loss per strategy with its 95 % interval as whiskers.
    bars = next(f for f in figures.values() if f["layout"]["title"]["text"] == "Validation loss"
                and f["data"][0]["type"] == "bar")["data"][0]
    assert bars["y"][0] == pytest.approx(row["eval_loss"])
    assert bars["error_y"]["array"][0] == pytest.approx(row["eval_loss_ci95"][1] - row["eval_loss"])
    assert bars["error_y"]["arrayminus"][0] == pytest.approx(row["eval_loss"] - row["eval_loss_ci95"][0])
    # A phased metric: before and after side by side.
    mrr = next(f for f in figures.values() if f["layout"]["title"]["text"].startswith("MRR"))
    assert [t["name"] for t in mrr["data"]] == ["before", "after"] and mrr["layout"]["barmode"] == "group"
    # The results table and the settings.
    assert '<th scope="col">Input embedding initialization</th>' in page and "(best)" in page
    assert "learning rate 0.0003" in page and "tiny-random" in page


def test_curves_are_aligned_by_step_over_seeds():
    series = report.curve_series(hand_result(), "eval_loss")
    epoch, mean, low, high, n = series["random_both"][1]
    assert (epoch, n) == (0.5, 2) and (low, high) == (pytest.approx(1.8), pytest.approx(1.9))
    assert mean == pytest.approx(1.85)
    assert series["random_both"][3] == pytest.approx((1.5, 0.91, 0.91, 0.91, 1))  # only seed 0 got this far
    assert report.curve_series({"members": []}, "eval_loss") == {}


def test_an_empty_or_one_seed_result_still_makes_a_page():
    page = report.report_html({"verdict": {}, "rows": [], "members": []})
    assert "No verdict" in page and "No strategy finished." in page and _figures(page) == {}
    assert report.report_markdown({}).startswith("**Verdict.** No verdict")


def test_several_symbols_across_then_one_section_each():
    from core.experiment.analysis.aggregate import aggregate

    one, two = hand_result(), hand_result()
    two["spec"] = "yarn shop"
    rows, verdict = aggregate([one, two])
    result = {"kind": "compare", "symbols": [one, two], "rows": rows, "verdict": {**verdict, "sentence": "Overall."},
              "specs": [one["spec"], "yarn shop"]}
    page = report.report_html(result)
    assert page.count("<section>") == 3 and '<div id="s2-chart-1"' in page and '<div id="across-chart-1"' in page
    assert page.index("Across symbols") < page.index("yarn shop</h2>")
    assert f"Rank on {html.escape(one['spec'])}" in page and "Rank on yarn shop" in page
    assert "window.__pwned = 1</script>" not in page
    assert len(_figures(page)) == 1 + 2 * (len(results.AXES) + len(report.CURVES) + len(_metrics_with_values(one["rows"])))
    across = _figures(page)["across-chart-1"]
    assert [t["name"] for t in across["data"]] == ["fit", "meaning"] and across["data"][0]["y"] == [1.0, 2.0]
    md = report.report_markdown(result)
    assert md.startswith("**Verdict.** Overall.") and "## yarn shop" in md and "### Results" in md
    assert "## Across symbols" in md and "| Strategy | Wins | Ties | Losses | Fit: mean rank | Fit: wins / ties / losses " \
                                         "| Meaning: mean rank | Meaning: wins / ties / losses |" in md
    assert f"| {text.md(LABEL)} | 0 | 2 | 0 | 1.00 | 0 / 2 / 0 | 1.00 | 0 / 2 / 0 | 1 / 1 | 1 / 1 |" in md


# -- a real tiny comparison, the command and the browser ------------------------------------------------

@pytest.fixture(scope="module")
def tiny_result() -> dict:
    from core.execution import backend_for
    from core.experiment.single.compare import CompareConfig, run_comparison
    from core.model.loading import load_model
    from core.spec.gloss import GlossSpec
    from core.train.finetune import FinetuneConfig
    from tests.conftest import tiny_spec_dict

    config = CompareConfig(strategies=["average", "random_both"], seeds=2, max_new_tokens=4,
                           finetune=FinetuneConfig(epochs=1, batch_size=2, grad_accum=1, learning_rate=1e-2))
    return run_comparison(GlossSpec.from_dict(tiny_spec_dict()), load_model("tiny-random"), config,
                          backend=backend_for()).to_dict()


def test_a_real_tiny_comparison(tiny_result):
    md = report.report_markdown(tiny_result)
    assert md.startswith(f"**Verdict.** {text.md(tiny_result['verdict']['sentence'])}")
    page = report.report_html(tiny_result)
    _check_page(page, tiny_result)
    figures = _figures(page)
    assert len(figures) == len(results.AXES) + len(report.CURVES) + len(_metrics_with_values(tiny_result["rows"]))
    assert all(f["data"] for f in figures.values())
    assert md.index("## Fit and meaning") < md.index("## Results")


def test_compare_out_writes_the_four_files(tmp_path, capsys):
    from core.cli.main import main
    from tests.conftest import tiny_spec_dict

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tiny_spec_dict()), encoding="utf-8")
    out = tmp_path / "out"
    code = main(["compare", str(spec), "--strategies", "average,random_both", "--seeds", "1", "--model", "tiny-random",
                 "--epochs", "1", "--batch-size", "2", "--grad-accum", "1", "--max-new-tokens", "4", "--json",
                 "--no-progress", "--runs", str(tmp_path / "runs"), "--out", str(out)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["comparison.json", "comparison.md", "report.html",
                                                                   "report.md"]
    saved = json.loads((out / "comparison.json").read_text())
    assert (out / "report.md").read_text() == report.report_markdown(saved)
    assert (out / "report.md").read_text().startswith("**Verdict.** ") and data["markdown"]
    _check_page((out / "report.html").read_text(), saved)


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_the_report_draws_every_chart_in_chromium_offline(tmp_path, tiny_result):
    from playwright.sync_api import sync_playwright

    pages = {"hand": hand_result(), "tiny": tiny_result}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                    "--disable-background-networking"])
        try:
            for name, result in pages.items():
                path = tmp_path / f"{name}.html"
                path.write_text(report.report_html(result), encoding="utf-8")
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_offline(True)
                requests: list[str] = []
                context.on("request", lambda r: requests.append(r.url))
                context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(Path(path).as_uri())
                count = len(_figures(path.read_text()))
                page.wait_for_function(f"document.body.dataset.chartsDrawn === '{count}'", timeout=30_000)
                drawn = page.evaluate("""() => [...document.querySelectorAll('div.plot')].map(d => ({
                    id: d.id, svg: d.querySelectorAll('.main-svg').length, traces: (d.data || []).length,
                    shown: d.querySelectorAll('.trace, .point').length}))""")
                assert len(drawn) == count and all(d["svg"] > 0 and d["traces"] > 0 and d["shown"] > 0
                                                   for d in drawn), drawn
                assert page.evaluate("window.__pwned") is None and errors == []
                assert page.locator("#verdict").inner_text().startswith("Verdict.")
                assert [u for u in requests if not u.startswith("file:")] == []
                page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
                context.close()
        finally:
            browser.close()
