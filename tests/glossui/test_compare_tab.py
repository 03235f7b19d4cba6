"""The Compare tab without a browser, on the tiny model: the estimated time before Start (from a
probe, then from stored runs), where to run folded away with Ray explained, the Gloss tab's symbol
never offered twice, and the time left while it runs."""

from __future__ import annotations

import pytest

from core.service import Service
from glossui import render
from glossui import strings as S
from glossui.layout import build_page
from glossui.tabs.compare import WHERE
from tests.conftest import tiny_spec_dict
from tests.glossui.test_handlers import Progress, init_values, settings_in, spec_in


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return build_page(svc)


def inputs(page, strategies=("average", "random"), seeds=2, also=(), **ft) -> dict:
    c = page["compare"]
    return ({c["strategies"]: list(strategies), c["also"]: list(also)}
            | settings_in(page, "compare", "compare", {}, {"seeds": seeds}) | init_values(page)
            | settings_in(page, "train", "finetune", {"epochs": 1, "batch_size": 2, "grad_accum": 1}, ft)
            | spec_in(page))


def estimate(page, **kw) -> str:
    return page.fn("estimate_comparison")(inputs(page, **kw))[page["compare"]["estimate"]]


def test_without_a_stored_run_the_estimate_offers_a_probe_which_is_kept(page):
    assert estimate(page) == S.ESTIMATE_NONE
    out = page.fn("measure_comparison")(inputs(page), Progress())[page["compare"]["estimate"]]
    assert "short measurement" in out and "4 members" in out and out.startswith("**Estimated time: about")
    assert estimate(page) == out                  # the measurement is kept: no second probe
    # More epochs and more seeds take longer; settings with a problem get a word, not an error.
    longer = page.service.jobs.estimate_comparison(tiny_spec_dict(), {"strategies": ["average"], "seeds": 3},
                                                   {}, {"epochs": 9, "batch_size": 2, "grad_accum": 1})
    shorter = page.service.jobs.estimate_comparison(tiny_spec_dict(), {"strategies": ["average"], "seeds": 1},
                                                    {}, {"epochs": 1, "batch_size": 2, "grad_accum": 1})
    assert longer["members"] == 3 and longer["per_member"] > shorter["per_member"]
    assert longer["seconds"] - longer["once"] > 3 * (shorter["seconds"] - shorter["once"]) * 0.99
    assert estimate(page, seeds=0) == S.ESTIMATE_FIX


def test_a_comparison_keeps_its_estimate_says_its_time_left_and_then_stored_runs_estimate(page):
    c = page["compare"]
    out = page.fn("start_comparison")(inputs(page, strategies=["average"], seeds=1))
    job_id = out[c["job"]]["id"]
    job = page.service.jobs.get(job_id)
    assert job["config"]["estimate"]["basis"] == "probe" and job["config"]["estimate"]["members"] == 1
    assert page.service.jobs.runner.wait(job_id, timeout=600)["status"] == "done"
    after = estimate(page)
    assert "from 1 stored run of this model" in after and "4 members" in after


def test_where_to_run_is_folded_away_with_its_explanation(page):
    c = page["compare"]
    where = next(b for b in page.demo.blocks.values() if getattr(b, "elem_id", None) == "compare-where")

    def inside(block):
        for child in getattr(block, "children", []):
            yield child
            yield from inside(child)

    folded = list(inside(where))
    names = [n for n in c["settings"] if n in WHERE or n.startswith("ray_")]
    assert set(names) >= {"workers", "backend", "ray_address", "ray_cpus", "ray_gpus"}
    assert all(c["settings"][n] in folded for n in names) and c["settings"]["seeds"] not in folded
    assert where.open is False
    # The help of "Run members on" sends the reader to 'Running on Ray': it is right there.
    assert "Running on Ray" in c["settings"]["backend"].info and "**Running on Ray.**" in S.WHERE_HELP
    assert any(getattr(b, "value", None) == S.WHERE_HELP for b in folded)


def test_the_gloss_tabs_symbol_is_not_offered_again(page):
    c, token = page["compare"], page.spec_fields["new_token"]
    wool = page.service.specs.example("wool_shop")["new_token"]
    others = [n for n in page.service.specs.examples() if n != "wool_shop"]
    out = page.fn("compare_also_choices")({token: wool, c["also"]: ["wool_shop", others[0]]})[c["also"]]
    assert "wool_shop" not in out["choices"] and out["value"] == [others[0]]
    out = page.fn("compare_also_choices")({token: "[BLISS_NEW]", c["also"]: []})[c["also"]]
    assert "wool_shop" in out["choices"]


def test_the_estimate_reads_well():
    found = {"seconds": 3725.0, "members": 15, "per_member": 480.0, "side_by_side": 2.0, "basis": "runs", "runs": 3,
             "at_most": True}
    text = render.estimate_md(found)
    assert text.startswith("**Estimated time: about 1 h 02 min**") and "15 members" in text
    assert "about 8 min 00 s each, 2 side by side" in text and "from 3 stored runs" in text and "at most" in text
    one = render.estimate_md(found | {"members": 1, "runs": 1, "side_by_side": 1.0, "at_most": False})
    assert "1 member (" in one and "1 stored run of" in one and "side by side" not in one


def test_a_set_of_strategies_is_one_choice_away(page):
    c = page["compare"]
    assert c["strategies"].value == ["optimized", "average", "last_token", "random", "random_both"]
    pick = page.fn("compare_preset")
    field = pick("field")["value"]
    assert field[:5] == c["strategies"].value and set(field[5:]) == {"distill", "adaptivocab", "description",
                                                                      "interpolation"}
    assert pick("all")["value"] == [name for name, _ in [(s["name"], 0) for s in page.service.settings.strategies()]]
    assert pick("research")["value"] == c["strategies"].value
