"""The page's handlers without a browser: the tabs' handlers as wired by ``build_page``, on the tiny model.

Each handler takes one dict ``{component: value}`` and returns one dict ``{component: update}``;
an output it does not return is left as it was on the page.
"""

from __future__ import annotations

import json

import gradio as gr
import pytest

from core.service import SPEC_FIELDS, Service
from glossui import render
from glossui.layout import build_page
from glossui.page import handler, spec_from_texts, spec_to_texts
from tests.conftest import tiny_spec_dict

HOSTILE = "<script>alert(1)</script> <b>bold</b> *star*"


class Progress:
    """Records what a handler reports through gr.Progress."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return build_page(svc)


def texts(spec: dict | None = None) -> dict[str, str]:
    """The Gloss tab's text for ``spec``, by field name."""
    return spec_to_texts(spec or tiny_spec_dict(), SPEC_FIELDS)


def spec_in(page, spec: dict | None = None) -> dict:
    """The Gloss tab's boxes holding ``spec``, as handler input."""
    return {page.spec_fields[name]: text for name, text in texts(spec).items()}


def settings_in(page, tab: str, kind: str, base: dict, changes: dict) -> dict:
    """A tab's settings widgets holding the engine's defaults, ``base`` and ``changes`` (by field name)."""
    widgets = page[tab]["settings"]
    unknown = set(changes) - set(widgets)
    assert not unknown, f"not {kind} settings: {unknown}"
    cfg = {f["name"]: f["default"] for f in page.service.settings.describe(kind)} | base | changes
    return {w: cfg[name] for name, w in widgets.items()}


def init_values(page, **changes) -> dict:
    return settings_in(page, "initialize", "init", {}, changes)


def test_fields_round_trip_one_item_a_line(page):
    spec = tiny_spec_dict()
    vals = texts(spec)
    assert vals["positive_contexts"].count("\n") == len(spec["positive_contexts"]) - 1
    # blank lines and stray spaces do not make items
    vals["glosses"] = "  wool shop \n\n yarn shop\n"
    assert spec_from_texts(vals) == spec
    assert page.spec_of({page.spec_fields[n]: v for n, v in vals.items()}) == spec


def test_the_settings_widgets_come_from_the_engines_descriptions(page):
    init, ft = page["initialize"]["settings"], page["train"]["settings"]
    described = {f["name"]: f for f in page.service.settings.describe("init")}
    assert list(init) == list(described)
    assert [w.elem_id for w in init.values()] == [
        "init-strategy", "init-seed", "init-random-scale", "init-negative-logit", "opt-lr", "opt-epochs",
        "opt-init", "opt-batch-size", "distill-snippets", "distill-length", "distill-layer", "distill-lr",
        "distill-epochs", "distill-batch-size", "distill-window", "description-noise", "init-precision",
        "init-contrast-negatives"]
    assert all(w.label == described[n]["label"] for n, w in init.items())
    assert [v for _, v in init["strategy"].choices] == [s["name"] for s in page.service.settings.strategies()]
    fields = page.service.settings.describe("finetune")
    assert [w.elem_id for w in ft.values()] == [f"ft-{f['name']}" for f in fields if not f["advanced"]] + \
        [f"ft-{f['name']}" for f in fields if f["advanced"]]
    assert all(ft[f["name"]].label == f["label"] for f in fields)


def test_one_declared_setting_gets_its_widget_and_reaches_the_engine(tmp_path, monkeypatch):
    """Adding a setting is one field: the Train tab builds its widget, and its value reaches the config."""
    from dataclasses import dataclass

    import core.service.settings
    from core.spec.settings import setting
    from core.train.finetune import FinetuneConfig

    @dataclass
    class Extended(FinetuneConfig):
        label_smoothing: float = setting(0.0, label="Label smoothing", range=(0.0, 0.5),
                                         help="Share of the probability spread over the other tokens.")

    real = core.service.settings.config_class
    monkeypatch.setattr(core.service.settings, "config_class",
                        lambda kind: Extended if kind == "finetune" else real(kind))
    svc = Service(tiny=True, runs_dir=tmp_path / "runs")
    page = build_page(svc)
    widget = page["train"]["settings"]["label_smoothing"]
    assert widget.elem_id == "ft-label_smoothing" and widget.label == "Label smoothing"
    assert "0 to 0.5" in widget.info
    values = {w: (0.25 if n == "label_smoothing" else f["default"])
              for f in svc.settings.describe("finetune") for n, w in page["train"]["settings"].items() if n == f["name"]}
    assert svc.settings.finetune_config(page.settings_of("train", values)).label_smoothing == 0.25


def test_a_job_panel_that_did_not_just_finish_leaves_the_run_lists_alone(page):
    """The status of a job panel changes on every page load; only a finished job refreshes the runs."""
    train = page["train"]
    out = page.fn("refresh_on_train_finish")({train["job"]: None, page["runs"]["pick"]: None})
    assert out and all(update == gr.skip() for update in out.values())
    out = page.fn("refresh_on_train_finish")({train["job"]: {"id": "x", "status": "running"},
                                              page["runs"]["pick"]: None})
    assert out and all(update == gr.skip() for update in out.values())


def test_blank_example_empties_every_field(page):
    status = page["gloss"]["status"]
    out = page.fn("load_example")({page["gloss"]["example"]: "(blank)"})
    assert set(out) == set(page.spec_fields.values()) | {status}
    assert all(out[box]["value"] == "" for box in page.spec_fields.values())
    assert "blank" in out[status]


def test_counters_say_how_many_items_and_the_limits(page):
    box = page.spec_fields["positive_contexts"]
    update = page.fn("count_positive_contexts")({box: "one\n\ntwo\n"})[box]
    assert update["info"].startswith("2 items (needs 3 to 500")
    box = page.spec_fields["symbol_id"]
    update = page.fn("count_symbol_id")({box: "29111"})[box]
    assert update["info"].startswith("5 of 12 characters")


def check(page, spec: dict | None = None) -> str:
    return page.fn("check_spec")(spec_in(page, spec))[page["gloss"]["status"]]


def test_check_lists_every_problem_with_field_and_fix(page):
    spec = tiny_spec_dict() | {"positive_contexts": ["only one"], "generation_prompts": ["no slot"]}
    status = check(page, spec)
    assert "2 problems" in status
    assert "Positive contexts (positive\\_contexts)" in status
    assert "Generation prompts (generation\\_prompts, item 1)" in status
    assert "add 2 more" in status
    assert check(page).startswith("The spec is valid for tiny")


def test_user_text_is_escaped_in_messages(page):
    spec = tiny_spec_dict() | {"glosses": [HOSTILE, HOSTILE]}
    status = check(page, spec)
    assert "<script>" not in status and "&lt;script&gt;" in status and "<b>" not in status


def test_upload_fills_fields_and_reports_problems_inline(page):
    fields, status = page.spec_fields, page["gloss"]["status"]
    upload = page.fn("upload_spec")
    box = page["gloss"]["upload"]
    good = json.dumps(tiny_spec_dict()).encode()
    out = upload({box: good})
    assert {name: out[b]["value"] for name, b in fields.items()} == texts()
    assert "uploaded" in out[status]

    out = upload({box: b'{"symbol_id": "1", "glosses": '})
    assert set(out) == {status}          # every field left as it was
    assert "spec file" in out[status] and "JSON" in out[status]

    partly = tiny_spec_dict() | {"target_tokens": "wool"}
    out = upload({box: json.dumps(partly).encode()})
    assert out[fields["positive_contexts"]]["value"] == texts()["positive_contexts"]
    assert out[fields["target_tokens"]]["value"] == ""
    assert "target\\_tokens" in out[status]


def test_download_writes_the_spec_or_lists_problems(page):
    file, status = page["gloss"]["file"], page["gloss"]["status"]
    out = page.fn("download_spec")(spec_in(page))
    path = out[file]["value"]
    assert json.loads(open(path, encoding="utf-8").read())["glosses"] == ["wool shop", "yarn shop"]
    out = page.fn("download_spec")(spec_in(page, tiny_spec_dict() | {"glosses": []}))
    assert out[file] is None and "glosses" in out[status]


def test_model_tab_reports_ready_and_failures(page, tmp_path):
    m = page["model"]
    out = page.fn("model_tick")()
    assert out[m["status"]].startswith("Ready: tiny-random") and out[m["timer"]].active is False
    assert ["hidden size", "64"] in out[m["info"]]["data"]
    empty = tmp_path / "empty"
    empty.mkdir()
    page.service.models.slot.load(str(empty), wait=True)
    out = page.fn("model_tick")()
    assert "Could not load" in out[m["status"]] and "no config.json" in out[m["status"]]
    page.service.models.load("", wait=True)


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


def test_handler_puts_input_problems_in_its_message_component():
    from core.spec.errors import fail

    message = gr.Markdown()

    @handler(message=message)
    def bad_input(values: dict) -> dict:
        raise fail("opt_lr", "<i>-1</i> is not a positive number", "give e.g. 0.01")

    out = bad_input({})
    assert set(out) == {message}
    assert "opt\\_lr" in out[message] and "give e.g. 0.01" in out[message] and "<i>" not in out[message]


def test_strategy_help_opens_the_optimization_settings_only_for_optimized(page):
    c = page["initialize"]
    strategy = c["settings"]["strategy"]
    out = page.fn("strategy_help")({strategy: "optimized"})
    text, acc = out[c["strategy_help"]], out[c["strategy_settings"]["optimized"]]
    assert "Optimized" in text and acc["open"] is True
    out = page.fn("strategy_help")({strategy: "random_both"})
    text, acc = out[c["strategy_help"]], out[c["strategy_settings"]["optimized"]]
    assert "Output row: drawn at random" in text and acc["open"] is False


def initialize(page, **changes) -> dict:
    spec = changes.pop("spec", None)
    return page.fn("initialize")(init_values(page, **changes) | spec_in(page, spec), Progress())


def test_initialize_shows_fit_ranks_nearest_and_the_optimization_curve(page):
    c = page["initialize"]
    progress = Progress()
    out = page.fn("initialize")(init_values(page, strategy="optimized", opt_epochs=4) | spec_in(page), progress)
    message, fit, quality, ranks, plot, nearest, gens = (out[c[k]] for k in (
        "message", "fit", "quality", "ranks", "opt_plot", "nearest", "generations"))
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
    # The bar follows the stages: output fit, input row and its epochs, ranking, generating, done.
    shares = [args[0] for args, _ in progress.calls]
    descs = [kw.get("desc", "") for _, kw in progress.calls]
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[-1] == 1.0
    for said in ("Fitting the output row", "Optimizing the input vector: epoch 4", "Ranking", "Generating text, step"):
        assert any(d.startswith(said) for d in descs), said


def test_initialize_in_bfloat16_says_so_in_the_fit_table_and_a_bad_precision_is_named(page):
    c = page["initialize"]
    assert "precision" in c["settings"]        # a declared setting, in the advanced settings
    fit = initialize(page, precision="bfloat16")[c["fit"]]["value"]
    assert ["Precision of the pass over the contexts", "bfloat16"] in fit["data"]
    fit = initialize(page)[c["fit"]]["value"]
    assert ["Precision of the pass over the contexts", "the model's own"] in fit["data"]
    message = initialize(page, precision="half")[c["message"]]
    assert "precision" in message and "bfloat16" in message


def test_bfloat16_on_a_cpu_without_it_is_warned_about_in_the_message(page, monkeypatch):
    from core.model import hardware

    monkeypatch.setattr(hardware, "bf16_native", lambda device="cpu": False)
    monkeypatch.setattr(hardware, "profile", lambda: {"slowdown": 70.0, "bfloat16_gflops": 1.3, "float32_gflops": 90.0})
    c = page["initialize"]
    message = initialize(page, precision="bfloat16")[c["message"]]
    assert "**Warning:** precision bfloat16: this CPU multiplies bfloat16 about 70 times slower" in message
    assert "Warning" not in initialize(page, precision="model")[c["message"]]


def test_initialize_with_bad_settings_names_the_fields_inline(page):
    message = page["initialize"]["message"]
    out = initialize(page, opt_lr=-1.0, seed=1.5)
    assert "opt\\_lr" in out[message] and "seed" in out[message]
    assert "give a value from" in out[message] and "e.g. 0.01" in out[message]
    assert set(out) == {message}        # the results shown before are left as they were


def test_initialize_with_an_invalid_spec_lists_problems_and_leaves_results(page):
    message = page["initialize"]["message"]
    out = initialize(page, spec=tiny_spec_dict() | {"testing_negative_contexts": []})
    assert "testing\\_negative\\_contexts" in out[message]
    assert set(out) == {message}


def test_markdown_escaping_shows_text_literally():
    assert render.md("<b>x</b> *y* [z](u)") == "&lt;b&gt;x&lt;/b&gt; \\*y\\* \\[z\\](u)"
    assert render.plain("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"


# -- jobs: train, compare, runs, generate, export ------------------------------------------------
def ft_values(page, **changes) -> dict:
    return settings_in(page, "train", "finetune", {"epochs": 2, "batch_size": 2, "grad_accum": 1}, changes)


def start_training(page, **ft_changes) -> dict:
    return page.fn("start_training")(init_values(page) | ft_values(page, **ft_changes) | spec_in(page))


@pytest.fixture(scope="module")
def jobs(page):
    """A finished fine-tuning job and a finished two-strategy comparison (started through the handlers)."""
    c = page["compare"]
    train_out = start_training(page)
    compare_out = page.fn("start_comparison")({c["strategies"]: ["average", "random_both"]}
                                              | settings_in(page, "compare", "compare", {}, {"seeds": 1})
                                              | init_values(page) | ft_values(page, epochs=1) | spec_in(page))
    train_id, compare_id = train_out[page["train"]["job"]]["id"], compare_out[c["job"]]["id"]
    for job_id in (train_id, compare_id):
        assert page.service.jobs.runner.wait(job_id, timeout=600)["status"] == "done"
    return {"train": train_id, "compare": compare_id, "train_out": train_out, "compare_out": compare_out}


def test_start_training_reports_the_job_and_a_second_one_is_queued(page, jobs):
    t = page["train"]
    out = jobs["train_out"]
    assert set(out) >= {t["job"], t["status"], t["progress"], t["plot"], t["events"], t["result"], t["timer"]}
    assert out[t["job"]]["id"] == jobs["train"] and out[t["timer"]].active is True
    assert render.md(jobs["train"]) in out[t["status"]]
    compare_status = jobs["compare_out"][page["compare"]["status"]]
    assert "queued" in compare_status and "1 job ahead" in compare_status


def test_train_view_draws_the_curve_the_table_and_the_result(page, jobs):
    t = page["train"]
    out = page.fn("train_view")({t["job"]: {"id": jobs["train"]}, t["log_scale"]: False})
    state, status, bar, fig, events, result, timer = (out[t[k]] for k in (
        "job", "status", "progress", "plot", "events", "result", "timer"))
    assert "finished" in status and timer.active is False and bar == ""
    steps = page.service.jobs.get(jobs["train"])["events"]
    assert len(events["data"]) == len(steps) and [int(r[0]) for r in events["data"]] == [e["step"] for e in steps]
    assert fig["visible"] is True
    fig = fig["value"]
    names = [t.name for t in fig.data]
    assert names[:2] == ["Training loss", "Validation loss"] and names[2].startswith("Best step")
    assert fig.layout.yaxis.type == "linear"
    assert result["visible"] and result["value"]["data"][0][1] == "Averaged input; calculated output"
    # log scale redraws; an unchanged job skips the redraw on a tick
    log = page.fn("train_view")({t["job"]: state, t["log_scale"]: True})
    assert log[t["plot"]]["value"].layout.yaxis.type == "log"
    tick = page.fn("train_tick")({t["job"]: state, t["log_scale"]: False})
    assert t["plot"] not in tick and t["events"] not in tick and t["status"] in tick


def test_bad_hyperparameters_are_listed_inline_with_their_fields(page):
    status = page["train"]["status"]
    out = start_training(page, epochs=0, learning_rate=float("nan"), batch_size=50)
    message = out[status]
    assert "**Epochs**" in message and "Learning rate (learning\\_rate)" in message
    assert set(out) == {status}         # every other output left as it was
    # batch larger than the data is checked against the spec
    out = start_training(page, batch_size=50)
    assert "batch\\_size" in out[status] and "fine-tuning sentences" in out[status]


def test_stop_without_a_running_job_says_so(page, jobs):
    t = page["train"]
    stop = page.fn("stop_train_job")
    none = render.md("There is no running or queued job to stop.")
    assert stop({t["job"]: {"id": jobs["train"]}})[t["status"]] == none
    assert stop({t["job"]: None})[t["status"]].startswith("There is no")


def test_comparison_view_has_the_table_the_overlay_and_downloads(page, jobs):
    c = page["compare"]
    out = page.fn("compare_view")({c["job"]: {"id": jobs["compare"]}, c["log_scale"]: False})
    status, fig, data, table, files = (out[c[k]] for k in ("status", "plot", "data", "table", "files"))
    assert {r[0] for r in data["data"]} == {"average", "random_both"}
    assert "finished" in status and "Lowest validation loss" in status
    assert [t.name for t in fig["value"].data] == ["average", "random_both"]
    labels = [r[0] for r in table["value"]["data"]]
    assert labels[0].startswith("Averaged input") and labels[1].startswith("Random input & output")
    # The verdict and its two axes above the chart: each strategy's numbers on fit and on meaning, its standing.
    verdict = out[c["verdict"]]["value"]
    assert verdict.startswith("**Verdict.** ") and "| Strategy | Fit: Validation loss | Fit: verdict |" in verdict
    lines = [line for line in verdict.splitlines() if line.startswith("| ")][1:]
    assert [line.split(" | ")[0].removeprefix("| ") for line in lines] == \
        [render.md(name.removesuffix(" (best)")) for name in labels]
    paths = files["value"]
    assert [p.rsplit("/", 1)[1] for p in paths] == ["comparison.csv", "comparison.json", "comparison.md", "report.html", "report.md"]
    csv_text = open(paths[0], encoding="utf-8").read()
    assert csv_text.splitlines()[0].startswith("strategy,label,seeds,best_epoch,eval_loss")
    assert len(csv_text.strip().splitlines()) == 3
    assert json.load(open(paths[1], encoding="utf-8"))["rows"][0]["strategy"] == "average"
    assert "| Input embedding initialization |" in open(paths[2], encoding="utf-8").read()   # the results schema


def open_run(page, run_id: str) -> tuple:
    r = page["runs"]
    out = page.fn("open_run")({r["pick"]: run_id})
    return tuple(out.get(r[k]) for k in ("summary", "plot", "result", "generations", "spec", "config"))


def test_runs_list_open_and_pickers(page, jobs):
    r = page["runs"]
    out = page.fn("refresh_runs")({r["pick"]: None})
    table, gen_pick = out[r["table"]], out[page["generate"]["pick"]]
    assert r["pick"] in out and page["export"]["pick"] in out
    ids = [row[0] for row in table["value"]["data"]]
    assert jobs["train"] in ids and jobs["compare"] in ids
    targets = [c[1] for c in gen_pick["choices"]]
    assert jobs["train"] in targets
    assert f"{jobs['compare']}:average-s0" in targets and f"{jobs['compare']}:random_both-s0" in targets
    summary, fig, result, gens, spec, config = open_run(page, jobs["train"])
    assert "done" in summary and spec["value"]["glosses"] == ["wool shop", "yarn shop"]
    assert config["value"]["finetune"]["epochs"] == 2
    assert gens["value"]["headers"][3] == "With the gloss (after)"
    summary, fig, result, gens, spec, config = open_run(page, jobs["compare"])
    assert len(result["value"]["data"]) == 2 and gens["visible"] is False
    summary = open_run(page, "../../etc")[0]
    assert "run\\_id" in summary and "not a valid run id" in summary


def test_generations_side_by_side_and_a_custom_prompt(page, jobs):
    g = page["generate"]
    out = page.fn("run_generations")({g["pick"]: f"{jobs['compare']}:average-s0"})
    message, table = out[g["message"]], out[g["table"]]
    assert "average" in message and table["value"]["headers"] == [
        "Prompt", "With the gloss (before)", "With the token (before)", "With the gloss (after)",
        "With the token (after)"]
    assert [r[0] for r in table["value"]["data"]] == tiny_spec_dict()["generation_prompts"]

    def custom(prompt: str, n: int) -> list[dict]:
        return list(page.fn("generate_custom")({g["pick"]: jobs["train"], g["prompt"]: prompt,
                                                g["max_new_tokens"]: n}, Progress()))

    out = custom("no placeholder", 8)[-1]
    message = out[g["custom_message"]]
    assert "Your own prompt (prompt)" in message and "{placeholder}" in message and g["custom"] not in out
    steps = custom("She went to the {placeholder} and", 6)
    # The message says at once what is being generated, then what was; the run's own message stays.
    assert [set(step) for step in steps] == [{g["custom_message"]}, {g["custom_message"], g["custom"]}]
    assert steps[0][g["custom_message"]].startswith("Generating") and "Generated" in steps[1][g["custom_message"]]
    row = steps[-1][g["custom"]]["value"]["data"][0]
    assert row[0] == "She went to the {placeholder} and"
    assert row[1].startswith("She went to the wool shop and") and row[2].startswith("She went to the [BLISS_29111] and")
    assert row[3].startswith("She went to the wool shop and") and row[4].startswith("She went to the [BLISS_29111]")


def test_every_press_of_generate_runs_and_the_models_load_once(page, jobs, monkeypatch):
    """Gradio drops a press while the last one is pending unless told otherwise; two at once share one load."""
    import threading

    g = page["generate"]
    dep = next(d for d in page.demo.get_config_file()["dependencies"] if d.get("api_name") == "generate_custom")
    assert dep["trigger_mode"] == "multiple"
    results = page.service.results
    results._models_cache.clear()
    loads = []
    real = results._load_models
    monkeypatch.setattr(results, "_load_models", lambda target: loads.append(target) or real(target))
    outs: dict[str, list] = {}

    def press(prompt: str) -> None:
        outs[prompt] = list(page.fn("generate_custom")({g["pick"]: jobs["train"], g["prompt"]: prompt,
                                                        g["max_new_tokens"]: 3}, Progress()))

    threads = [threading.Thread(target=press, args=(p,)) for p in ("One {placeholder} and", "Two {placeholder} or")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert loads == [jobs["train"]]
    for prompt, steps in outs.items():
        assert steps[-1][g["custom"]]["value"]["data"][0][0] == prompt


def test_export_adapter_zip_and_merged_folder_names_are_checked(page, jobs, tmp_path):
    import zipfile

    e = page["export"]
    out = page.fn("export_adapter")({e["pick"]: jobs["train"]})
    names = zipfile.ZipFile(out[e["file"]]["value"]).namelist()
    assert any(n.endswith("adapter_config.json") for n in names) and any(n.endswith("glosslab.json") for n in names)
    assert "load_adapter" in out[e["how"]]["value"]
    merged = page.fn("export_merged")
    out = merged({e["pick"]: jobs["train"], e["folder"]: "../outside"}, Progress())
    assert "export name" in out[e["message"]] and e["how"] not in out
    out = merged({e["pick"]: f"{jobs['compare']}:average-s0", e["folder"]: "merged-average"}, Progress())
    assert "merged-average" in out[e["message"]] and "AutoModelForCausalLM.from_pretrained" in out[e["how"]]["value"]
    assert (page.service.results.exports_dir / "merged-average" / "config.json").is_file()


def on_load(page, remembered: dict) -> tuple[str, str]:
    """The jobs a page load reattaches to (train, compare), for a browser that remembers ``remembered``."""
    train = page.fn("train_load")({page.remembered: remembered})[page["train"]["job"]]
    compare = page.fn("compare_load")({page.remembered: remembered})[page["compare"]["job"]]
    return train["id"], compare["id"]


def test_page_load_reattaches_to_the_latest_jobs(page, jobs):
    assert on_load(page, {}) == (jobs["train"], jobs["compare"])


def test_page_load_reattaches_to_this_browsers_own_job(page, jobs):
    """Another user's later job does not replace the one this browser remembers."""
    other = start_training(page, epochs=1)[page["train"]["job"]]["id"]
    assert page.service.jobs.runner.wait(other, timeout=600)["status"] == "done"
    assert on_load(page, {})[0] == other  # a fresh browser sees the latest job
    assert on_load(page, {"train": jobs["train"], "compare": jobs["compare"]}) == (jobs["train"], jobs["compare"])
    out = page.fn("remember_train_job")({page["train"]["job"]: {"id": other},
                                         page.remembered: {"compare": jobs["compare"]}})
    assert out[page.remembered] == {"train": other, "compare": jobs["compare"]}
    assert on_load(page, {"train": "20000101-000000-gone-000000"})[0] == other  # deleted: latest


def test_delete_asks_first_then_removes_the_run(page, jobs):
    r = page["runs"]
    out = page.fn("ask_delete")({r["pick"]: jobs["compare"]})
    assert out[r["confirm_row"]]["visible"] is True and "cannot be undone" in out[r["confirm_text"]]
    out = page.fn("delete_run")({r["pick"]: jobs["compare"]})
    assert out[r["confirm_row"]]["visible"] is False and "Deleted" in out[r["summary"]]
    assert jobs["compare"] not in [row[0] for row in out[r["table"]]["value"]["data"]]
    assert all(p in out for p in (r["pick"], page["generate"]["pick"], page["export"]["pick"]))


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
