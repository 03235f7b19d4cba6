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


def _command_paths(parser, prefix=()) -> list[tuple[str, ...]]:
    """Every command and subcommand of the real parser, as argument lists (``("vocab", "init")``)."""
    import argparse

    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.append((*prefix, name))
                paths += _command_paths(sub, (*prefix, name))
    return paths


def test_help_works_for_every_command_and_subcommand(capsys):
    paths = _command_paths(cli.build_parser())
    # The walk sees the registered commands, nested ones included (a new command is covered by itself).
    assert {("init",), ("vocab",), ("vocab", "init"), ("lexicon", "search")} <= set(paths)
    failed = []
    for path in [(), *paths]:
        code = cli.main([*path, "--help"])
        out = capsys.readouterr().out
        if code != 0 or "usage:" not in out or len(out.splitlines()) < 3:
            failed.append((path, code, out[-200:]))
    assert failed == []


def test_a_percent_sign_in_a_generated_help_is_printed_as_written(capsys):
    import argparse

    from core.spec import settings

    parser = argparse.ArgumentParser(prog="p")
    s = settings.Setting(1, "share", "About 1 % off, or 100%.", "int", range=(0, 100))
    settings.add_argument(parser, "share", s)
    parser.print_help()
    assert "About 1 % off, or 100% (default 1; 0 to 100)" in " ".join(capsys.readouterr().out.split())
