"""The Vocabulary tab's handlers without a browser, on the tiny model: choosing and checking symbols,
Initialize only, Fine-tune (one epoch), the table, the heatmaps, the lexicon report, the export, and the
Runs tab opening a vocabulary run."""

from __future__ import annotations

import json
import zipfile

import pytest

from core.service import Service
from glossui import render
from glossui import strings as S
from glossui.layout import build_page
from tests.core.experiment.vocab_fixtures import THREE
from tests.glossui.test_handlers import Progress, settings_in

TWO = [THREE[0], THREE[2]]  # lowness_shortness, wool_shop: both work with the tiny tokenizer


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return build_page(svc)


def vocab_in(page, builtins=TWO, files=None, contrast=False, strategy="average", **ft) -> dict:
    v = page["vocab"]
    return (settings_in(page, "initialize", "init", {}, {})
            | settings_in(page, "train", "finetune", {"epochs": 1, "batch_size": 2, "grad_accum": 1}, ft)
            | {v["builtins"]: list(builtins), v["files"]: files, v["contrast"]: contrast, v["strategy"]: strategy})


def finished(page, out: dict) -> dict:
    """Wait for the job a start handler returned; its view as the tab's tick draws it."""
    v = page["vocab"]
    job_id = out[v["job"]]["id"]
    assert page.service.jobs.runner.wait(job_id, timeout=600)["status"] == "done"
    return page.fn("vocab_view")({v["job"]: {"id": job_id}, v["log_scale"]: False})


@pytest.fixture(scope="module")
def init_only(page):
    return finished(page, page.fn("start_vocab_init")(vocab_in(page, contrast=True)))


@pytest.fixture(scope="module")
def fine_tuned(page, init_only):
    return finished(page, page.fn("start_vocab_finetune")(vocab_in(page)))


def test_the_tab_follows_compare(page):
    from glossui.layout import TABS

    assert [t.ID for t in TABS].index("vocab") == [t.ID for t in TABS].index("compare") + 1


def test_chosen_symbols_are_checked_as_a_whole(page, tmp_path):
    v = page["vocab"]
    check = page.fn("check_vocabulary")
    out = check({v["builtins"]: TWO, v["files"]: None})[v["checked"]]
    assert out.startswith("Vocabulary of 2 symbols") and "\\[BLISS\\_29111\\]" in out
    assert check({v["builtins"]: [], v["files"]: []})[v["checked"]] == S.VOCAB_EMPTY
    # a spec file uploaded twice under another name is the same symbol twice; a text file is not a spec
    wool = page.service.specs.example("wool_shop")
    (tmp_path / "mine.json").write_text(json.dumps(wool), encoding="utf-8")
    out = check({v["builtins"]: TWO, v["files"]: [str(tmp_path / "mine.json")]})[v["checked"]]
    assert "\\[BLISS\\_29111\\] new\\_token" in out and "token of two symbols" in out and "Traceback" not in out
    (tmp_path / "notes.txt").write_text("hi", encoding="utf-8")
    out = check({v["builtins"]: [], v["files"]: [str(tmp_path / "notes.txt")]})[v["checked"]]
    assert "**upload**: 'notes.txt' is neither" in out and ".jsonl file" in out


def test_bad_settings_and_symbols_are_listed_inline_and_nothing_starts(page):
    v = page["vocab"]
    before = len(page.service.jobs.runner.list())
    out = page.fn("start_vocab_finetune")(vocab_in(page, builtins=["no_such_symbol"], epochs=0))
    assert set(out) == {v["status"]}
    assert "no\\_such\\_symbol" in out[v["status"]] and "**Epochs**" in out[v["status"]]
    assert len(page.service.jobs.runner.list()) == before


def test_initialize_only_shows_the_table_and_one_heatmap(page, init_only):
    v = page["vocab"]
    assert "finished (no fine-tuning)" in init_only[v["status"]]
    assert init_only[v["plot"]]["visible"] is False            # no training steps to draw
    table = init_only[v["table"]]["value"]
    metrics = {m["key"]: m for m in page.service.settings.metrics()}
    assert table["headers"][:2] == ["Token", "Gloss"] and metrics["mrr_positive"]["label"] in table["headers"]
    assert metrics["eval_loss"]["label"] not in table["headers"]  # no validation loss without training
    assert [r[0] for r in table["data"]] == [page.service.specs.example(n)["new_token"] for n in TWO]
    assert all("→" not in cell for row in table["data"] for cell in row)
    heat = init_only[v["heat"]]["value"]
    assert heat.data[0].type == "heatmap" and len(heat.data[0].z) == 2
    assert init_only[v["heat_before"]]["visible"] is False
    out = page.fn("export_vocab_adapter")({v["job"]: init_only[v["job"]]})
    assert out[v["export_message"]] == S.VOCAB_EXPORT_NONE and out[v["file"]]["visible"] is False


def test_fine_tune_draws_each_symbols_loss_before_after_and_exports_every_token(page, fine_tuned):
    v = page["vocab"]
    fig = fine_tuned[v["plot"]]["value"]
    names = [t.name for t in fig.data]
    tokens = [r[0] for r in fine_tuned[v["table"]]["value"]["data"]]
    assert names[:2] == ["Training loss", "Validation loss"]
    assert [n for n in names if n.startswith("Validation loss [")] == [f"Validation loss {t}" for t in tokens]
    table = fine_tuned[v["table"]]["value"]
    metrics = {m["key"]: m for m in page.service.settings.metrics()}
    loss, mrr = (table["headers"].index(metrics[k]["heading"]) for k in ("eval_loss", "mrr_positive"))
    assert table["headers"][:2] == ["Token", "Gloss"]
    assert all("→" in row[mrr] and float(row[loss]) > 0 for row in table["data"])
    assert fine_tuned[v["heat_before"]]["visible"] is True and fine_tuned[v["heat"]]["visible"] is True
    out = page.fn("export_vocab_adapter")({v["job"]: fine_tuned[v["job"]]})
    with zipfile.ZipFile(out[v["file"]]["value"]) as z:
        meta = json.loads(z.read(next(n for n in z.namelist() if n.endswith("glosslab.json"))))
    assert meta["tokens"] == tokens and meta["kind"] == "vocab"


def test_the_runs_tab_opens_a_vocabulary_run(page, init_only, fine_tuned):
    r = page["runs"]
    for view in (init_only, fine_tuned):
        run_id = view[page["vocab"]["job"]]["id"]
        out = page.fn("open_run")({r["pick"]: run_id})
        assert "2 symbols" in out[r["summary"]] and out[r["generations"]]["visible"] is False
        assert len(out[r["result"]]["value"]["data"]) == 2
        assert len(out[r["spec"]]["value"]["specs"]) == 2
    assert out[r["plot"]]["value"].data[0].name == "Training loss"
    assert "initialized only" in page.fn("open_run")({r["pick"]: init_only[page["vocab"]["job"]]["id"]})[r["summary"]]


def test_a_page_load_reattaches_to_the_latest_vocabulary_job(page, fine_tuned):
    job = page.fn("vocab_load")({page.remembered: {}})[page["vocab"]["job"]]
    assert job["id"] == fine_tuned[page["vocab"]["job"]]["id"]


def test_generate_shows_every_symbols_prompts_of_a_fine_tuned_vocabulary(page, fine_tuned):
    g = page["generate"]
    run_id = fine_tuned[page["vocab"]["job"]]["id"]
    out = page.fn("run_generations")({g["pick"]: run_id})
    prompts = [p for n in TWO for p in page.service.specs.example(n)["generation_prompts"]]
    assert [r[0] for r in out[g["table"]]["value"]["data"]] == prompts
    assert "2 symbols" in out[g["message"]]
    # The symbols to choose from for a prompt of one's own, the first chosen.
    first, second = (page.service.specs.example(n) for n in TWO)
    choice = out[g["symbol"]]
    assert choice["visible"] is True and choice["value"] == first["new_token"]
    assert [v for _, v in choice["choices"]] == [first["new_token"], second["new_token"]]
    for spec in (first, second):  # each symbol's gloss and token fill the prompt
        out = list(page.fn("generate_custom")({g["pick"]: run_id, g["prompt"]: "It is {placeholder} and",
                                                g["max_new_tokens"]: 4, g["symbol"]: spec["new_token"]},
                                               Progress()))[-1]
        row = out[g["custom"]]["value"]["data"][0]
        assert row[1].startswith(f"It is {spec['glosses'][0]} and") and row[2].startswith(f"It is {spec['new_token']} and")
        assert row[4].startswith(f"It is {spec['new_token']} and")
        assert spec["symbol_id"] in out[g["custom_message"]]
    # "before" is the vocabulary as it was initialized (every token), not one symbol alone.
    models = page.service.results._models(run_id)
    assert len(models["before"][2]) == len(TWO) and models["before"][2] == models["after"][2]
    # No symbol, or one from elsewhere: named, nothing generated.
    out = list(page.fn("generate_custom")({g["pick"]: run_id, g["prompt"]: "It is {placeholder} and",
                                            g["max_new_tokens"]: 4, g["symbol"]: "[BLISS_NOPE]"}, Progress()))[-1]
    message = out[g["custom_message"]]
    assert set(out) == {g["custom_message"]} and "Symbol" in message and "choose one of" in message


def test_initialize_only_is_titled_as_what_ran_and_offers_nothing_to_download(page, init_only, fine_tuned):
    v = page["vocab"]
    assert init_only[v["table"]]["label"] == S.VOCAB_TABLE_INIT
    assert init_only[v["export"]]["visible"] is False and init_only[v["file"]]["visible"] is False
    assert fine_tuned[v["table"]]["label"] == S.VOCAB_TABLE_LABEL and fine_tuned[v["export"]]["visible"] is True
    assert v["export"].visible is False          # nothing to download before a job has an adapter


def test_the_strategy_is_explained_on_the_tab(page):
    v = page["vocab"]
    assert v["strategy"].info == S.VOCAB_STRATEGY_INFO and "table" not in v["strategy"].info
    strategies = page.service.settings.strategies()
    for s in strategies:
        text = page.fn("vocab_strategy_help")({v["strategy"]: s["name"]})[v["strategy_help"]]
        assert text.startswith(f"**{render.md(s['label'])}**: {render.md(s['help'])}")
        assert ("Output row: calculated" in text) == s["calculated_output"]
    table = next(b for b in page.demo.blocks.values()
                 if getattr(b, "label", None) == S.STRATEGIES_TITLE and hasattr(b, "headers"))
    assert [row[0] for row in table.value["data"]] == [s["name"] for s in strategies]


def test_a_vocabulary_job_reports_its_evaluation_symbol_by_symbol(page, init_only):
    job = page.service.jobs.get(init_only[page["vocab"]["job"]]["id"])
    events = page.service.jobs.runner.events(job["id"])
    evaluating = [e for e in events if e.get("phase") == "evaluate_before" and "fraction" in e]
    assert any("(1 of 2)" in e["message"] for e in evaluating) and any("(2 of 2)" in e["message"] for e in evaluating)
    fractions = [e["fraction"] for e in evaluating]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] > 0.5
    # The bar's last place: past the initialization and through most of the evaluation.
    assert job["progress"]["phase"] == "evaluate_before" and job["progress"]["fraction"] > 0.75


def test_a_reload_shows_the_vocabulary_jobs_own_choices(page, fine_tuned):
    v = page["vocab"]
    out = page.fn("vocab_load")({page.remembered: {"vocab": fine_tuned[v["job"]]["id"]}})
    assert out[v["builtins"]] == TWO and out[v["strategy"]] == "average" and out[v["contrast"]] is False
    assert out[v["job"]]["id"] == fine_tuned[v["job"]]["id"]


BANDS = [(1, 1), (2, 5), (6, 10), (11, 100), (101, 1000), (1001, 10000), (10001, float("inf"))]


def _bands(ranks: list[float]) -> list[int]:
    return [sum(1 for r in ranks if lo <= r <= hi) for lo, hi in BANDS]


def test_the_lexicon_report_shows_shares_the_worst_the_histogram_and_its_files(page, init_only, fine_tuned):
    v = page["vocab"]
    for view, phases in ((init_only, ["before"]), (fine_tuned, ["before", "after"])):
        result = page.service.jobs.get(view[v["job"]]["id"])["result"]
        own = {p: result[f"confusion_{p}"]["own_rank"] for p in phases}
        text = view[v["lexicon"]]["value"]
        assert view[v["lexicon"]]["visible"] is True and text.startswith("### Lexicon report: 2 symbols")
        for p in phases:   # the share found, counted here from each token's own median rank
            found = 100 * sum(1 for r in own[p] if r <= 5) / 2
            assert f"{p.capitalize()} fine-tuning: {found:.1f} % of 2 symbols" in text
        assert ("After fine-tuning" in text) == ("after" in phases)
        worst = view[v["worst"]]
        judged = phases[-1]
        assert worst["label"] == S.LEXICON_WORST.format(n=2, judged=judged)
        assert worst["value"]["headers"] == S.LEXICON_WORST_HEAD and len(worst["value"]["data"]) == 2
        ranks = sorted(own[judged], reverse=True)
        assert [row[2] for row in worst["value"]["data"]] == [render.num(r) for r in ranks]
        assert all("median rank on its own contexts" in row[3] for row in worst["value"]["data"])
        fig = view[v["histogram"]]["value"]
        assert [t.name for t in fig.data] == [f"{p} fine-tuning" for p in phases]
        assert [list(t.y) for t in fig.data] == [_bands(own[p]) for p in phases]
        files = view[v["lexicon_files"]]["value"]
        assert [f.rsplit("/", 1)[-1] for f in files] == ["lexicon.md", "lexicon.html", "symbols.csv"]
        with open(files[2], encoding="utf-8") as f:
            rows = f.read().splitlines()
        assert len(rows) == 3 and rows[0].startswith("token,symbol_id,gloss,rank_before")


def test_a_job_without_results_shows_no_lexicon_report(page):
    v = page["vocab"]
    before = len(page.service.jobs.runner.list())
    out = page.fn("start_vocab_init")(vocab_in(page, builtins=[]))
    assert set(out) == {v["status"]} and len(page.service.jobs.runner.list()) == before
    assert v["lexicon"].visible is False and v["histogram"].visible is False and v["lexicon_files"].visible is False
