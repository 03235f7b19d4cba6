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
    assert "positive\\_contexts" in status and "generation\\_prompts \\(item 1\\)" in status
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
    from core.errors import fail

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
