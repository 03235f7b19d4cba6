"""The command line's entry point: exit statuses, one-line internal errors, registered commands."""

from __future__ import annotations

from core.cli import main as cli
from tests.core.cli.conftest import run


def test_every_command_is_listed_in_the_help(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("init", "finetune", "compare", "runs", "settings"):
        assert command in out


def test_internal_error_is_one_line_unless_debug(capsys, spec_file, monkeypatch):
    import core.experiment.single.pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch\nsecond line")

    monkeypatch.setattr(core.experiment.single.pipeline, "initialize", broken)
    code, _, err = run(capsys, "init", spec_file, "--model", "tiny-random")
    assert code == 1 and "Traceback" not in err
    assert "internal error: RuntimeError: shape mismatch" in err and "second line" not in err
    code, _, err = run(capsys, "init", spec_file, "--model", "tiny-random", "--debug")
    assert code == 1 and "Traceback" in err


def test_a_command_module_registers_itself(capsys, monkeypatch):
    import types

    extra = types.ModuleType("extra_commands_for_test")

    def register(subparsers):
        p = subparsers.add_parser("hello")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=lambda args: print("hello from a registered command") or 0)

    extra.register = register
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, extra))
    code, out, _ = run(capsys, "hello")
    assert code == 0 and out == "hello from a registered command\n"
    # With --json anything a command prints goes to stderr.
    code, out, err = run(capsys, "hello", "--json")
    assert code == 0 and out == "" and "hello from a registered command" in err


def test_usage_errors_exit_2(capsys):
    assert cli.main([]) == 2
    assert cli.main(["init"]) == 2
    assert cli.main(["--help"]) == 0
