"""What the command-line tests share: a spec file on the tiny model, and running one command in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main as cli
from tests.conftest import tiny_spec_dict


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(tiny_spec_dict()), encoding="utf-8")
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    """``python -m core ARGV`` in this process: (exit status, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
