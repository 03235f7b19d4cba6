"""core/cli/runs.py: ``python -m core runs list|show|delete|export`` against a store filled here
(one real tiny fine-tuning, one comparison-shaped run written with the RunStore API)."""

from __future__ import annotations

import json
import shutil

import pytest

from core.cli.main import main
from core.runs.store import RunStore
from tests.conftest import TOKEN


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """(store, finetune run id, comparison-shaped run id)."""
    from core.embedding.strategies import InitConfig
    from core.model.loading import load_model
    from core.runs.jobs import JobRunner
    from core.runs.submit import submit_finetune
    from core.spec.gloss import GlossSpec
    from core.train.finetune import FinetuneConfig
    from tests.conftest import tiny_spec_dict

    store = RunStore(tmp_path_factory.mktemp("runs"))
    runner = JobRunner(store)
    try:
        ticket = submit_finetune(runner, GlossSpec.from_dict(tiny_spec_dict()), load_model("tiny-random"),
                                 InitConfig(strategy="average"),
                                 FinetuneConfig(epochs=1, batch_size=2, grad_accum=1, learning_rate=1e-2), 3)
        assert runner.wait(ticket.job_id, 120)["status"] == "done"
    finally:
        runner.shutdown()
    source = store.adapter_path(ticket.job_id)
    compare_id = store.create("compare", {"new_token": TOKEN}, {"kind": "compare"}, title="two members")
    for member in ("average-s0", "random_both-s0"):
        store.save_folder(compare_id, lambda tmp: shutil.copytree(source, tmp, dirs_exist_ok=True), member)
    store.write_json(compare_id, "result.json", {"rows": [{"strategy": "average"}, {"strategy": "random_both"}]})
    store.set_status(compare_id, "done")
    return store, ticket.job_id, compare_id


def run(capsys, store: RunStore, *argv: str) -> tuple[int, str, str]:
    code = main(["runs", *map(str, argv), "--runs", str(store.root)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_json(out: str) -> dict:
    assert out.endswith("\n") and out.count("\n") == 1, out
    return json.loads(out)


def test_list_json_and_readable(capsys, filled):
    store, run_id, compare_id = filled
    code, out, err = run(capsys, store, "list", "--json")
    assert code == 0, err
    data = one_json(out)
    assert data["root"] == str(store.root)
    by_id = {row["run_id"]: row for row in data["runs"]}
    assert set(by_id) == {run_id, compare_id}
    assert by_id[run_id]["status"] == "done" and by_id[run_id]["kind"] == "finetune" and by_id[run_id]["has_result"]
    assert by_id[compare_id]["title"] == "two members"
    code, out, err = run(capsys, store, "list")
    assert code == 0 and f"2 run(s) in {store.root}" in err
    lines = out.splitlines()
    assert len(lines) == 2 and {line.split()[0] for line in lines} == {run_id, compare_id}
    assert all(line.split()[1] == "done" for line in lines)


def test_list_of_an_empty_store(capsys, tmp_path):
    code, out, _ = run(capsys, RunStore(tmp_path / "empty"), "list", "--json")
    assert code == 0 and one_json(out)["runs"] == []


def test_show_json_has_the_whole_run(capsys, filled):
    store, run_id, _ = filled
    code, out, err = run(capsys, store, "show", run_id, "--json")
    assert code == 0, err
    data = one_json(out)
    assert set(data) >= {"run_id", "status", "spec", "config", "result", "events", "adapters", "path"}
    assert data["run_id"] == run_id and data["status"]["status"] == "done"
    assert data["adapters"] == [""] and data["spec"]["new_token"] == TOKEN
    assert data["result"] == store.result(run_id)
    assert data["config"]["finetune"]["batch_size"] == 2
    assert [e["seq"] for e in data["events"]] == list(range(len(data["events"])))
    assert any(e["type"] == "step" for e in data["events"])
    code, out, _ = run(capsys, store, "show", run_id)
    assert code == 0
    readable = json.loads(out)  # an indented JSON of the three parts
    assert set(readable) == {"status", "config", "result"} and readable["status"]["status"] == "done"


@pytest.mark.parametrize("action", ["show", "delete", "export", "resume"])
def test_unknown_or_missing_run_id_exits_2_naming_the_field(capsys, filled, action, tmp_path):
    store, _, _ = filled
    extra = ["--out", str(tmp_path / "x")] if action == "export" else []
    for run_id in ("20990101-000000-finetune-abcdef", "../etc"):
        code, out, err = run(capsys, store, action, run_id, *extra, "--json")
        assert code == 2 and "Traceback" not in err
        assert "run_id" in err and " — " in err
        assert one_json(out)["problems"][0]["field"] == "run_id"
    code, out, err = run(capsys, store, action, *extra)
    assert code == 2 and "run_id" in err and "needs a run id" in err and out == ""
    assert not (tmp_path / "x").exists()


def test_resume_refuses_a_finished_run_and_changes_nothing(capsys, filled):
    store, run_id, compare_id = filled
    files = {p: p.read_bytes() for p in store.root.rglob("*") if p.is_file()}
    for one in (run_id, compare_id):
        code, out, err = run(capsys, store, "resume", one, "--json")
        assert code == 2 and "Traceback" not in err
        problem = one_json(out)["problems"][0]
        assert problem["field"] == "run_id" and "is done, not interrupted" in problem["problem"]
        assert "only a run whose process was killed can be resumed" in err
    assert {p: p.read_bytes() for p in store.root.rglob("*") if p.is_file()} == files


def test_export_writes_the_adapter_folder(capsys, filled, tmp_path):
    store, run_id, _ = filled
    out_dir = tmp_path / "exports" / "wool"
    code, out, err = run(capsys, store, "export", run_id, "--out", out_dir, "--json")
    assert code == 0, err
    data = one_json(out)
    assert data["path"] == str(out_dir) and data["merged"] is False and str(out_dir) in data["usage"]
    source = store.adapter_path(run_id)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in source.iterdir())
    for name in ("adapter_config.json", "glosslab.json", "adapter_model.safetensors"):
        assert (out_dir / name).read_bytes() == (source / name).read_bytes()
    # Readable form: the usage goes to stderr, stdout stays empty.
    code, out, err = run(capsys, store, "export", run_id, "--out", out_dir)
    assert code == 0 and out == "" and f"exported to {out_dir}" in err and "load_adapter" in err


def test_export_merged_gives_a_plain_model_folder(capsys, filled, tmp_path):
    from transformers import AutoTokenizer

    store, run_id, _ = filled
    out_dir = tmp_path / "merged"
    code, out, err = run(capsys, store, "export", run_id, "--out", out_dir, "--merged", "--json")
    assert code == 0, err
    data = one_json(out)
    assert data["merged"] is True and "AutoModelForCausalLM" in data["usage"]
    assert (out_dir / "config.json").is_file() and list(out_dir.glob("*.safetensors"))
    assert TOKEN in AutoTokenizer.from_pretrained(str(out_dir)).get_vocab()
    # A folder of other files is refused, naming the flag the user typed, for both kinds of export.
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    for extra in ([], ["--merged"]):
        code, out, err = run(capsys, store, "export", run_id, "--out", other, "--json", *extra)
        assert code == 2 and one_json(out)["problems"][0]["field"] == "out" and "out: " in err
    assert [p.name for p in other.iterdir()] == ["keep.txt"]


def test_export_needs_out_and_a_member_for_a_comparison(capsys, filled, tmp_path):
    store, run_id, compare_id = filled
    code, _, err = run(capsys, store, "export", run_id)
    assert code == 2 and "out:" in err and "--out" in err
    code, out, err = run(capsys, store, "export", compare_id, "--out", tmp_path / "c", "--json")
    assert code == 2 and "member" in err and "average-s0, random_both-s0" in err
    assert one_json(out)["problems"][0]["field"] == "member"
    assert not (tmp_path / "c").exists()
    code, out, err = run(capsys, store, "export", compare_id, "--member", "random_both-s0", "--out",
                         tmp_path / "c", "--json")
    assert code == 0, err
    assert (tmp_path / "c" / "adapter_config.json").is_file()
    code, out, err = run(capsys, store, "export", compare_id, "--member", "last_token-s0", "--out", tmp_path / "d",
                         "--json")
    assert code == 2 and "last_token-s0" in err and "has no member" in err and "average-s0, random_both-s0" in err
    assert one_json(out)["problems"][0]["field"] == "member"
    code, _, err = run(capsys, store, "export", compare_id, "--member", "../../x", "--out", tmp_path / "d")
    assert code == 2 and "member" in err
    assert not (tmp_path / "d").exists()


def test_delete_removes_a_finished_run_and_refuses_an_active_one(capsys, tmp_path):
    store = RunStore(tmp_path / "runs")
    done = store.create("finetune", {}, {}, status="done")
    keep = store.create("finetune", {}, {}, status="done")
    active = store.create("finetune", {}, {})
    store.set_status(active, "running")  # owned by this live process
    code, out, err = run(capsys, store, "delete", done)
    assert code == 0 and out == "" and f"deleted {done}" in err
    assert not store.path(done).exists() and store.exists(keep)
    code, out, err = run(capsys, store, "delete", active, "--json")
    assert code == 2 and "run_id" in err and "running" in err
    assert one_json(out)["problems"][0]["field"] == "run_id"
    assert store.exists(active)
    code, out, _ = run(capsys, store, "list", "--json")
    assert {r["run_id"] for r in one_json(out)["runs"]} == {keep, active}
    assert sorted(p.name for p in store.root.iterdir()) == sorted([keep, active])  # no leftovers
