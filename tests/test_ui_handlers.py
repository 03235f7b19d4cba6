"""The page's handlers without a browser: Runner methods on the tiny model."""

from __future__ import annotations

import json

import gradio as gr
import pytest

from core.service import SPEC_FIELDS, Service
from glossui import render
from glossui.runner import INIT_FIELDS, Runner, handler, spec_to_values, values_to_spec
from tests.conftest import tiny_spec_dict

HOSTILE = "<script>alert(1)</script> <b>bold</b> *star*"


class Progress:
    """Records what a handler reports through gr.Progress."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.load_model(wait=True)["state"] == "ready"
    return Runner(svc)


def values(spec: dict | None = None) -> list[str]:
    return spec_to_values(spec or tiny_spec_dict())


def test_fields_round_trip_one_item_a_line():
    spec = tiny_spec_dict()
    vals = values(spec)
    assert vals[SPEC_FIELDS.index("positive_contexts")].count("\n") == len(spec["positive_contexts"]) - 1
    # blank lines and stray spaces do not make items
    vals[SPEC_FIELDS.index("glosses")] = "  wool shop \n\n yarn shop\n"
    assert values_to_spec(vals) == spec


def test_blank_example_empties_every_field(runner):
    out = runner.load_example("(blank)")
    assert len(out) == len(SPEC_FIELDS) + 1
    assert all(u["value"] == "" for u in out[:-1])
    assert "blank" in out[-1]


def test_counters_say_how_many_items_and_the_limits(runner):
    update = runner.counter("positive_contexts")("one\n\ntwo\n")
    assert update["info"].startswith("2 items (needs 3 to 500")
    update = runner.counter("symbol_id")("29111")
    assert update["info"].startswith("5 of 12 characters")


def test_check_lists_every_problem_with_field_and_fix(runner):
    spec = tiny_spec_dict() | {"positive_contexts": ["only one"], "generation_prompts": ["no slot"]}
    status = runner.check_spec(*values(spec))
    assert "2 problems" in status
    assert "Positive contexts \\(positive\\_contexts\\)" in status
    assert "Generation prompts \\(generation\\_prompts, item 1\\)" in status
    assert "add 2 more" in status
    assert runner.check_spec(*values()).startswith("The spec is valid for tiny")


def test_user_text_is_escaped_in_messages(runner):
    spec = tiny_spec_dict() | {"glosses": [HOSTILE, HOSTILE]}
    status = runner.check_spec(*values(spec))
    assert "<script>" not in status and "&lt;script&gt;" in status and "<b>" not in status


def test_upload_fills_fields_and_reports_problems_inline(runner):
    good = json.dumps(tiny_spec_dict()).encode()
    out = runner.upload_spec(good)
    assert [u["value"] for u in out[:-1]] == values()
    assert "uploaded" in out[-1]

    out = runner.upload_spec(b'{"symbol_id": "1", "glosses": ')
    assert all(u == gr.skip() for u in out[:-1])
    assert "spec file" in out[-1] and "JSON" in out[-1]

    partly = tiny_spec_dict() | {"target_tokens": "wool"}
    out = runner.upload_spec(json.dumps(partly).encode())
    assert out[SPEC_FIELDS.index("positive_contexts")]["value"] == values()[SPEC_FIELDS.index("positive_contexts")]
    assert out[SPEC_FIELDS.index("target_tokens")]["value"] == ""
    assert "target\\_tokens" in out[-1]


def test_download_writes_the_spec_or_lists_problems(runner):
    file, status = runner.download_spec(*values())
    path = file["value"]
    assert json.loads(open(path, encoding="utf-8").read())["glosses"] == ["wool shop", "yarn shop"]
    path, status = runner.download_spec(*values(tiny_spec_dict() | {"glosses": []}))
    assert path is None and "glosses" in status


def test_model_tab_reports_ready_and_failures(runner, tmp_path):
    bar, status, table, timer = runner.model_tick()
    assert status.startswith("Ready: tiny\\-random") and timer.active is False
    assert ["hidden size", "64"] in table["data"]
    empty = tmp_path / "empty"
    empty.mkdir()
    runner.service.model.load(str(empty), wait=True)
    bar, status, table, timer = runner.model_tick()
    assert "Could not load" in status and "no config\\.json" in status
    runner.service.load_model("", wait=True)


def test_handler_turns_failures_into_readable_messages():
    from core.spec.errors import fail

    @handler
    def bad_input():
        raise fail("opt_lr", "<i>-1</i> is not a positive number", "give e.g. 0.01")

    @handler
    def crash():
        raise KeyError("internal detail")

    with pytest.raises(gr.Error) as err:
        bad_input()
    assert "opt_lr" in err.value.message and "give e.g. 0.01" in err.value.message
    assert "<i>" not in err.value.message
    with pytest.raises(gr.Error) as err:
        crash()
    assert "KeyError" in err.value.message and "Traceback" not in err.value.message
    assert "internal detail" not in err.value.message


def test_strategy_help_opens_the_optimization_settings_only_for_optimized(runner):
    text, acc = runner.strategy_help("optimized")
    assert "Optimized" in text and acc["open"] is True
    text, acc = runner.strategy_help("random_both")
    assert "Output row: random" in text and acc["open"] is False


def init_values(runner, **changes) -> list:
    cfg = runner.service.init_defaults() | changes
    return [cfg[n] for n in INIT_FIELDS]


def test_initialize_shows_fit_ranks_nearest_and_the_optimization_curve(runner):
    progress = Progress()
    out = runner.initialize(progress, *init_values(runner, strategy="optimized", opt_epochs=4), *values())
    message, fit, quality, ranks, plot, nearest, gens = out
    assert all(u["visible"] for u in (fit, quality, ranks, nearest, gens))
    ranks, nearest, gens = ranks["value"], nearest["value"], gens["value"]
    assert "Optimized" in message and "\\[BLISS\\_29111\\]" in message
    spec = tiny_spec_dict()
    assert [r[0] for r in ranks["data"]] == spec["testing_positive_contexts"] + spec["testing_negative_contexts"]
    assert ranks["headers"][2] == "Rank of the new token"
    assert all(int(r[2]) >= 1 for r in ranks["data"])
    assert plot["visible"] is True and len(plot["value"].data[0].x) == 4
    best_row = [r for r in fit["value"]["data"] if r[0].startswith("Input optimization: best epoch")]
    assert best_row and best_row[0][1].endswith("of 4")
    assert {r[0] for r in nearest["data"]} == {"input", "output"}
    assert [r[0] for r in gens["data"]] == spec["generation_prompts"]
    assert any(kw.get("unit") == "epochs" for _, kw in progress.calls)


def test_initialize_with_bad_settings_names_the_fields_inline(runner):
    out = runner.initialize(Progress(), *init_values(runner, opt_lr=-1.0, seed=1.5), *values())
    assert "opt\\_lr" in out[0] and "seed" in out[0] and "give e\\.g\\. 0\\.01" in out[0]
    assert all(u == gr.skip() for u in out[1:])


def test_initialize_with_an_invalid_spec_lists_problems_and_leaves_results(runner):
    spec = tiny_spec_dict() | {"testing_negative_contexts": []}
    out = runner.initialize(Progress(), *init_values(runner), *values(spec))
    assert "testing\\_negative\\_contexts" in out[0]
    assert all(u == gr.skip() for u in out[1:])


def test_markdown_escaping_shows_text_literally():
    assert render.md("<b>x</b> *y* [z](u)") == "&lt;b&gt;x&lt;/b&gt; \\*y\\* \\[z\\]\\(u\\)"
    assert render.plain("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"


# -- jobs: train, compare, runs, generate, export ------------------------------------------------
def ft_values(runner, **changes) -> list:
    fields = runner.service.finetune_fields()
    cfg = {f["name"]: f["default"] for f in fields} | {"epochs": 2, "batch_size": 2, "grad_accum": 1} | changes
    return [cfg[f["name"]] for f in fields]


@pytest.fixture(scope="module")
def jobs(runner):
    """A finished fine-tuning job and a finished two-strategy comparison (started through the handlers)."""
    train_out = runner.start_training(*init_values(runner), *ft_values(runner), *values())
    compare_out = runner.start_comparison(["average", "random_both"], 1, *init_values(runner),
                                          *ft_values(runner, epochs=1), *values())
    train_id, compare_id = train_out[0]["id"], compare_out[0]["id"]
    for job_id in (train_id, compare_id):
        assert runner.service.runner.wait(job_id, timeout=600)["status"] == "done"
    return {"train": train_id, "compare": compare_id, "train_out": train_out, "compare_out": compare_out}


def test_start_training_reports_the_job_and_a_second_one_is_queued(jobs):
    state, status, bar, plot, events, result, timer = jobs["train_out"]
    assert state["id"] == jobs["train"] and timer.active is True
    assert render.md(jobs["train"]) in status
    compare_status = jobs["compare_out"][1]
    assert "queued" in compare_status and "1 job ahead" in compare_status


def test_train_view_draws_the_curve_the_table_and_the_result(runner, jobs):
    state, status, bar, fig, events, result, timer = runner.train_view({"id": jobs["train"]}, False)
    assert "finished" in status and timer.active is False and bar == ""
    steps = runner.service.job(jobs["train"])["events"]
    assert len(events["data"]) == len(steps) and [int(r[0]) for r in events["data"]] == [e["step"] for e in steps]
    assert fig["visible"] is True
    fig = fig["value"]
    names = [t.name for t in fig.data]
    assert names[:2] == ["Training loss", "Validation loss"] and names[2].startswith("Best step")
    assert fig.layout.yaxis.type == "linear"
    assert result["visible"] and result["value"]["data"][0][1] == "Averaged input; calculated output"
    # log scale redraws; an unchanged job skips the redraw on a tick
    assert runner.train_view(state, True)[3]["value"].layout.yaxis.type == "log"
    tick = runner.train_tick(state, False)
    assert tick[3] == gr.skip() and tick[4] == gr.skip()


def test_bad_hyperparameters_are_listed_inline_with_their_fields(runner):
    out = runner.start_training(*init_values(runner), *ft_values(runner, epochs=0, learning_rate=float("nan"),
                                                                 batch_size=50), *values())
    message = out[1]
    assert "**Epochs**" in message and "Learning rate \\(learning\\_rate\\)" in message
    assert all(o == gr.skip() for i, o in enumerate(out) if i != 1)
    # batch larger than the data is checked against the spec
    out = runner.start_training(*init_values(runner), *ft_values(runner, batch_size=50), *values())
    assert "batch\\_size" in out[1] and "fine\\-tuning sentences" in out[1]


def test_stop_without_a_running_job_says_so(runner, jobs):
    assert runner.stop_job({"id": jobs["train"]}) == render.md("There is no running or queued job to stop.")
    assert runner.stop_job(None).startswith("There is no")


def test_comparison_view_has_the_table_the_overlay_and_downloads(runner, jobs):
    state, status, bar, fig, data, table, files, timer = runner.compare_view({"id": jobs["compare"]}, False)
    assert {r[0] for r in data["data"]} == {"average", "random_both"}
    assert "finished" in status and "Lowest validation loss" in status
    assert [t.name for t in fig["value"].data] == ["average", "random_both"]
    labels = [r[0] for r in table["value"]["data"]]
    assert labels[0].startswith("Averaged input") and labels[1].startswith("Random input & output")
    paths = files["value"]
    assert [p.rsplit("/", 1)[1] for p in paths] == ["comparison.csv", "comparison.json", "comparison.md"]
    csv_text = open(paths[0], encoding="utf-8").read()
    assert csv_text.splitlines()[0].startswith("strategy,label,seeds,best_epoch,eval_loss")
    assert len(csv_text.strip().splitlines()) == 3
    assert json.load(open(paths[1], encoding="utf-8"))["rows"][0]["strategy"] == "average"
    assert "| Input Embedding Initialization |" in open(paths[2], encoding="utf-8").read()


def test_runs_list_open_and_pickers(runner, jobs):
    table, runs_pick, gen_pick, export_pick = runner.refresh_runs(None)
    ids = [r[0] for r in table["value"]["data"]]
    assert jobs["train"] in ids and jobs["compare"] in ids
    targets = [c[1] for c in gen_pick["choices"]]
    assert jobs["train"] in targets
    assert f"{jobs['compare']}:average-s0" in targets and f"{jobs['compare']}:random_both-s0" in targets
    summary, fig, result, gens, spec, config = runner.open_run(jobs["train"])
    assert "done" in summary and spec["value"]["glosses"] == ["wool shop", "yarn shop"]
    assert config["value"]["finetune"]["epochs"] == 2
    assert gens["value"]["headers"][3] == "With the gloss (after)"
    summary, fig, result, gens, spec, config = runner.open_run(jobs["compare"])
    assert len(result["value"]["data"]) == 2 and gens["visible"] is False
    out = runner.open_run("../../etc")
    assert "run\\_id" in out[0] and "not a valid run id" in out[0]


def test_generations_side_by_side_and_a_custom_prompt(runner, jobs):
    message, table = runner.run_generations(f"{jobs['compare']}:average-s0")
    assert "average" in message and table["value"]["headers"] == [
        "Prompt", "With the gloss (before)", "With the token (before)", "With the gloss (after)",
        "With the token (after)"]
    assert [r[0] for r in table["value"]["data"]] == tiny_spec_dict()["generation_prompts"]
    message, table = runner.generate_custom(jobs["train"], "no placeholder", 8, Progress())
    assert "Your own prompt \\(prompt\\)" in message and "\\{placeholder\\}" in message and table == gr.skip()
    message, table = runner.generate_custom(jobs["train"], "She went to the {placeholder} and", 6, Progress())
    row = table["value"]["data"][0]
    assert row[0] == "She went to the {placeholder} and"
    assert row[1].startswith("She went to the wool shop and") and row[2].startswith("She went to the [BLISS_29111] and")
    assert row[3].startswith("She went to the wool shop and") and row[4].startswith("She went to the [BLISS_29111]")


def test_export_adapter_zip_and_merged_folder_names_are_checked(runner, jobs, tmp_path):
    import zipfile

    file, message, how = runner.export_adapter(jobs["train"])
    names = zipfile.ZipFile(file["value"]).namelist()
    assert any(n.endswith("adapter_config.json") for n in names) and any(n.endswith("glosslab.json") for n in names)
    assert "load_adapter" in how["value"]
    message, how = runner.export_merged(jobs["train"], "../outside")
    assert "export name" in message and how == gr.skip()
    message, how = runner.export_merged(f"{jobs['compare']}:average-s0", "merged-average")
    assert "merged\\-average" in message and "AutoModelForCausalLM.from_pretrained" in how["value"]
    assert (runner.service.exports_dir / "merged-average" / "config.json").is_file()


def test_page_load_reattaches_to_the_latest_jobs(runner, jobs):
    out = runner.on_load({}, False)
    assert out[0]["id"] == jobs["train"] and out[7]["id"] == jobs["compare"]


def test_page_load_reattaches_to_this_browsers_own_job(runner, jobs):
    """Another user's later job does not replace the one this browser remembers."""
    other = runner.start_training(*init_values(runner), *ft_values(runner, epochs=1), *values())[0]["id"]
    assert runner.service.runner.wait(other, timeout=600)["status"] == "done"
    assert runner.on_load({}, False)[0]["id"] == other  # a fresh browser sees the latest job
    mine = runner.on_load({"train": jobs["train"], "compare": jobs["compare"]}, False)
    assert mine[0]["id"] == jobs["train"] and mine[7]["id"] == jobs["compare"]
    remembered = runner.remember("train")({"id": other}, {"compare": jobs["compare"]})
    assert remembered == {"train": other, "compare": jobs["compare"]}
    assert runner.on_load({"train": "20000101-000000-gone-000000"}, False)[0]["id"] == other  # deleted: latest


def test_delete_asks_first_then_removes_the_run(runner, jobs):
    row, text = runner.ask_delete(jobs["compare"])
    assert row["visible"] is True and "cannot be undone" in text
    row, summary, table, *picks = runner.delete_run(jobs["compare"])
    assert row["visible"] is False and "Deleted" in summary
    assert jobs["compare"] not in [r[0] for r in table["value"]["data"]]


# -- app.py ----------------------------------------------------------------------------------------
def test_app_listens_on_localhost_by_default_and_reads_auth(monkeypatch):
    import app

    for name in ("GLOSSLAB_HOST", "GRADIO_SERVER_NAME", "GLOSSLAB_AUTH", "GLOSSLAB_TINY", "GLOSSLAB_MODEL"):
        monkeypatch.delenv(name, raising=False)
    args = app.parse_args([])
    assert args.host == "127.0.0.1" and args.auth is None and args.tiny is False and args.model is None
    assert app.parse_auth("linguist:s3cret:with:colons") == ("linguist", "s3cret:with:colons")
    monkeypatch.setenv("GLOSSLAB_AUTH", "a:b")
    monkeypatch.setenv("GLOSSLAB_TINY", "1")
    args = app.parse_args(["--host", "0.0.0.0", "--runs", "/tmp/x"])
    assert (args.host, args.auth, args.tiny, args.runs) == ("0.0.0.0", "a:b", True, "/tmp/x")
    for bad in ("nopassword", ":pw", "user:"):
        with pytest.raises(SystemExit):
            app.parse_auth(bad)


# -- plots -----------------------------------------------------------------------------------------
def test_loss_figure_marks_the_best_step_and_keeps_labels_literal():
    from glossui import plots

    events = [{"type": "step", "step": s, "epoch": s / 2, "loss": 3.0 - s * 0.1, "eval_loss": v}
              for s, v in enumerate([2.0, 1.5, 1.2, 1.4, 1.2])]
    fig = plots.loss_figure(events, log_scale=True, title="<b>wool</b> shop")
    best = [t for t in fig.data if t.name.startswith("Best step")]
    assert best and list(best[0].x) == [2] and list(best[0].y) == [1.2]   # the first of equal minima
    assert fig.layout.yaxis.type == "log" and fig.layout.title.text == "&lt;b&gt;wool&lt;/b&gt; shop"
    empty = plots.loss_figure([], title="x")
    assert not empty.data and "No loss yet" in empty.layout.annotations[0].text
    overlay = plots.compare_figure({"average": events, "<i>x</i>": events[:2]})
    assert [t.name for t in overlay.data] == ["average", "&lt;i&gt;x&lt;/i&gt;"]
