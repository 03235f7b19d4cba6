"""``python -m core settings``: the generated tables, readable and as JSON."""

from __future__ import annotations

import json

from core.cli import main as cli
from core.experiment.analysis import results


def test_markdown_lists_every_setting_and_metric(capsys):
    assert cli.main(["settings"]) == 0
    out = capsys.readouterr().out
    for flag in ("`--strategy`", "`--opt-lr`", "`--learning-rate`, `--lr`", "`--seeds`", "`--max-new-tokens`",
                 "`--positive-rank`", "`--negative-rank`", "`--checkpoint-steps`", "`--contrast-negatives`",
                 "`--workers`", "`--ray-workers`"):
        assert flag in out
    for m in results.METRICS:
        assert f"| {m.label} |" in out
    assert out.count("#### ") == 9
    assert "`--batch-symbols`" in out and "`--lengthen-contexts` / `--no-lengthen-contexts`" in out


def test_json_has_each_kind_of_setting_and_the_metrics(capsys):
    assert cli.main(["settings", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"init", "finetune", "compare", "metrics"}
    assert {d["name"] for d in data["compare"]} == {"strategies", "seeds", "leak_rank", "max_new_tokens", "workers", "backend", "ray_address",
                                                     "ray_cpus", "ray_gpus"}
    assert [m["key"] for m in data["metrics"]] == [m.key for m in results.METRICS]
    ft = {d["name"]: d for d in data["finetune"]}
    assert ft["learning_rate"]["default"] == 3e-4 and ft["learning_rate"]["min"] == 1e-7


def test_readme_option_rewrites_only_the_marked_tables(tmp_path, capsys):
    from core.cli.settings import markdown

    readme = tmp_path / "README.md"
    readme.write_text("# Title\n<!-- settings:start -->\nold tables\n<!-- settings:end -->\nafter\n")
    assert cli.main(["settings", "--readme", str(readme)]) == 0
    assert readme.read_text() == "# Title\n<!-- settings:start -->\n" + markdown() + "<!-- settings:end -->\nafter\n"
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    assert cli.main(["settings", "--readme", str(plain)]) == 2
    assert "readme:" in capsys.readouterr().err and plain.read_text() == "no markers\n"
