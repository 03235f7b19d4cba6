"""Finished runs through the service: a comparison over several symbols, its members' generations with
their own spec, its downloads; a vocabulary's lexicon report and its files; a target that is not there is
named readably."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.service import Service
from core.spec.errors import InputError
from core.spec.gloss import GlossSpec
from tests.conftest import tiny_spec_dict


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    yield svc
    svc.shutdown()


def test_a_target_that_is_not_there_names_the_run(service):
    for target in ("", "nope", "nope:average-s0"):
        with pytest.raises(InputError) as err:
            service.results.generations(target)
        assert err.value.fields in (["run"], ["run_id"]) and " — " in str(err.value)


def test_a_comparison_also_on_built_in_symbols(service, monkeypatch):
    """``also`` adds built-in specs (the Gloss tab's own symbol is not added twice); the run holds every
    spec, the result one section per symbol, the job's curves are named by symbol, and the downloads
    include the report with the strategies across symbols."""
    import core.service.jobs as service_module

    other = GlossSpec.from_dict(json.loads(json.dumps(tiny_spec_dict()).replace("[BLISS_29111]", "[BLISS_7]")))
    examples = {"other": other, "same": GlossSpec.from_dict(tiny_spec_dict())}
    monkeypatch.setattr(service_module, "load_example", lambda name: examples[name])
    ft = {f["name"]: f["default"] for f in service.settings.describe("finetune")} | {"epochs": 1, "batch_size": 2,
                                                                           "grad_accum": 1}
    job = service.jobs.start_comparison(tiny_spec_dict(), {"strategies": ["average", "random"], "seeds": 1},
                                   service.settings.init_defaults(), ft, also=["same", "other"])
    assert service.jobs.runner.wait(job["id"], timeout=300)["status"] == "done"
    done = service.jobs.get(job["id"])
    result = done["result"]
    assert result["specs"] == [GlossSpec.from_dict(tiny_spec_dict()).title, other.title]
    assert [len(s["members"]) for s in result["symbols"]] == [2, 2]
    assert {r["strategy"] for r in done["rows"]} == {"average", "random"}
    assert all(name.split()[0] in ("[BLISS_29111]", "[BLISS_7]") for name in done["series"])
    assert [s["new_token"] for s in service.jobs.store.spec(job["id"])["specs"]] == ["[BLISS_29111]", "[BLISS_7]"]
    report = next(p for p in service.results.comparison_files(job["id"]) if p.endswith("report.md"))
    assert "## Across symbols" in Path(report).read_text(encoding="utf-8")
    # A member of the second symbol generates with its own spec and token.
    target = f"{job['id']}:BLISS_7-average-s0"
    assert service.results.generations(target)["title"] == other.title
    out = service.results.generate(target, "I went to the {placeholder} today", 3)
    assert set(out) == {"before", "after"} and "[BLISS_7]" in json.dumps(out) and "[BLISS_29111]" not in json.dumps(out)


def test_a_vocabulary_s_lexicon_report_its_rank_bands_and_files(service, tmp_path):
    from core.cli.vocab import write_lexicon
    from core.report import lexicon

    job = service.jobs.start_vocabulary(["lowness_shortness", "wool_shop"], [], service.settings.init_defaults(),
                                        {}, finetune_too=False)
    with pytest.raises(InputError) as err:
        service.results.lexicon("")
    assert err.value.fields == ["run"] and "no run was chosen" in str(err.value)
    assert service.jobs.runner.wait(job["id"], timeout=300)["status"] == "done"
    report = service.results.lexicon(job["id"])
    json.dumps(report, allow_nan=False)
    result = service.jobs.get(job["id"])["result"]
    # The bands counted here from each symbol's own median rank on its testing contexts.
    own = result["confusion_before"]["own_rank"]
    bands = [(1, 1), (2, 5), (6, 10), (11, 100), (101, 1000), (1001, 10000), (10001, float("inf"))]
    assert report["bins"]["counts"] == {"before": [sum(1 for r in own if lo <= r <= hi) for lo, hi in bands]}
    assert report["bins"]["labels"][:2] == ["1", "2–5"] and sum(report["bins"]["counts"]["before"]) == 2
    summary = report["summary"]
    assert summary["symbols"] == 2 and summary["judged"] == "before" and summary["measured_after"] == 0
    assert summary["found_before"] == sum(1 for r in own if r <= 5) / 2
    assert sorted(w["rank"] for w in summary["worst"]) == sorted(own) and report["lines"][0].startswith("Before")
    # The files are the ones ``vocab init --out`` writes, and written once.
    paths = service.results.lexicon_files(job["id"])
    assert [Path(p).name for p in paths] == ["lexicon.md", "lexicon.html", "symbols.csv"]
    write_lexicon(tmp_path, result, lexicon.lexicon_rows(result))
    for path in paths:
        assert Path(path).read_bytes() == (tmp_path / Path(path).name).read_bytes()
    assert service.results.lexicon_files(job["id"]) == paths


def test_a_run_that_is_not_a_vocabulary_has_no_lexicon_report(service):
    ft = {f["name"]: f["default"] for f in service.settings.describe("finetune")} | {"epochs": 1, "batch_size": 2}
    job = service.jobs.start_training(tiny_spec_dict(), service.settings.init_defaults(), ft)
    assert service.jobs.runner.wait(job["id"], timeout=300)["status"] == "done"
    for call in (service.results.lexicon, service.results.lexicon_files):
        with pytest.raises(InputError) as err:
            call(job["id"])
        assert err.value.fields == ["run"] and "not a vocabulary run" in str(err.value)
