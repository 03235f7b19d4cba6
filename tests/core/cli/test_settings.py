"""``python -m core settings``: the generated tables, readable and as JSON."""

from __future__ import annotations

import json

from core.cli import main as cli
from core.experiment import results


def test_markdown_lists_every_setting_and_metric(capsys):
    assert cli.main(["settings"]) == 0
    out = capsys.readouterr().out
    for flag in ("`--strategy`", "`--opt-lr`", "`--learning-rate`, `--lr`", "`--seeds`", "`--max-new-tokens`"):
        assert flag in out
    for m in results.METRICS:
        assert f"| {m.label} |" in out
    assert out.count("#### ") == 5


def test_json_has_each_kind_of_setting_and_the_metrics(capsys):
    assert cli.main(["settings", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"init", "finetune", "compare", "metrics"}
    assert {d["name"] for d in data["compare"]} == {"strategies", "seeds", "max_new_tokens"}
    assert [m["key"] for m in data["metrics"]] == [m.key for m in results.METRICS]
    ft = {d["name"]: d for d in data["finetune"]}
    assert ft["learning_rate"]["default"] == 3e-4 and ft["learning_rate"]["min"] == 1e-7
