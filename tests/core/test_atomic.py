"""core.atomic: a file or folder is either the old complete one or the new one, even under SIGKILL."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import atomic

ROOT = Path(__file__).resolve().parents[2]


def _listing(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def test_write_text_writes_and_replaces(tmp_path):
    path = tmp_path / "sub" / "a.json"
    assert atomic.write_text(path, "one") == path
    atomic.write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_folder_creates_and_replaces(tmp_path):
    final = tmp_path / "out"
    with atomic.folder(final) as tmp:
        assert tmp.parent == final.parent and tmp.name.startswith(".out.") and not any(tmp.iterdir())
        assert not final.exists()
        (tmp / "a.txt").write_text("v1")
    assert _listing(final) == {"a.txt": "v1"}
    with atomic.folder(final) as tmp:
        (tmp / "b.txt").write_text("v2")
        assert _listing(final) == {"a.txt": "v1"}  # the old one stays whole until the block ends
    assert _listing(final) == {"b.txt": "v2"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_folder_temp_names_are_unique(tmp_path):
    with atomic.folder(tmp_path / "x") as a, atomic.folder(tmp_path / "x") as b:
        assert a != b


def test_an_error_in_folder_leaves_the_old_content_and_no_leftovers(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.folder(final) as tmp:
            (tmp / "a.txt").write_text("new")
            raise RuntimeError("boom")
    assert _listing(final) == {"a.txt": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_folder_without_replace_refuses_a_full_target(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(OSError):
        with atomic.folder(final, replace=False) as tmp:
            (tmp / "a").write_text("mine")
            final.mkdir()
            (final / "b").write_text("someone else's")
    assert _listing(final) == {"b": "someone else's"}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# -- killed between writing and renaming -----------------------------------------------------------

_PAUSE_BEFORE_RENAME = """
import os, sys, time
import core.atomic as atomic
def _pause(*args, **kwargs):
    print("written", flush=True)
    time.sleep(120)
"""


def _kill_when_written(script: str, *args: str) -> str:
    """Run ``script`` in a child Python, wait for its "written" line, SIGKILL it; return its stdout so far."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        assert line.strip() == "written", f"child did not reach the rename: {line!r} {proc.stderr.read() if not ready or not line else ''}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return line


def _old_folder(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "a.txt").write_text("old a")
    (path / "b.txt").write_text("old b")


def test_kill_before_the_folder_rename_keeps_the_old_folder(tmp_path):
    final = tmp_path / "out"
    _old_folder(final)
    _kill_when_written(_PAUSE_BEFORE_RENAME + """
atomic.replace_dir = _pause
from pathlib import Path
with atomic.folder(Path(sys.argv[1])) as tmp:
    (tmp / "a.txt").write_text("new a")
    (tmp / "c.txt").write_text("new c")
""", str(final))
    assert _listing(final) == {"a.txt": "old a", "b.txt": "old b"}
    leftovers = [p for p in tmp_path.iterdir() if p != final]
    assert [p.name.startswith(".out.tmp-") for p in leftovers] == [True]  # hidden, never read as `out`
    assert _listing(leftovers[0]) == {"a.txt": "new a", "c.txt": "new c"}


def test_kill_before_the_file_rename_keeps_the_old_file(tmp_path):
    path = tmp_path / "status.json"
    path.write_text(json.dumps({"status": "old"}))
    _kill_when_written(_PAUSE_BEFORE_RENAME + """
os.replace = _pause
atomic.write_text(sys.argv[1], '{"status": "new"}')
""", str(path))
    assert json.loads(path.read_text()) == {"status": "old"}
    leftovers = [p for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".status.json.")
    assert leftovers[0].read_text() == '{"status": "new"}'  # fully written: only the rename was missing


def _adapter(folder: Path, tag: str) -> None:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"tag": tag}))
    (folder / "glosslab.json").write_text(json.dumps({"token": "[T]", "base_model": "tiny-random", "tag": tag}))
    (folder / "adapter_model.safetensors").write_bytes(tag.encode() * 1000)


def test_kill_before_the_export_rename_keeps_the_earlier_export(tmp_path):
    from core.runs.export import export_adapter, read_adapter_metadata

    old_src, new_src, out = tmp_path / "run1" / "adapter", tmp_path / "run2" / "adapter", tmp_path / "exports" / "x"
    _adapter(old_src, "old")
    _adapter(new_src, "new")
    export_adapter(old_src, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _kill_when_written(_PAUSE_BEFORE_RENAME + """
atomic.replace_dir = _pause
from core.runs.export import export_adapter
export_adapter(sys.argv[1], sys.argv[2])
""", str(new_src), str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert read_adapter_metadata(out)["tag"] == "old"
    # the next export replaces it and clears nothing else
    export_adapter(new_src, out)
    assert read_adapter_metadata(out)["tag"] == "new"


def test_export_adapter_failure_keeps_the_earlier_export(tmp_path, monkeypatch):
    import shutil

    from core.runs import export

    src, out = tmp_path / "run" / "adapter", tmp_path / "exports" / "x"
    _adapter(src, "old")
    export.export_adapter(src, out)

    def broken_copy(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copytree", broken_copy)
    with pytest.raises(OSError):
        export.export_adapter(src, out)
    assert export.read_adapter_metadata(out)["tag"] == "old"
    assert [p.name for p in out.parent.iterdir()] == ["x"]


def test_lines_are_appended_whole_and_a_cut_last_line_is_removed(tmp_path):
    path = tmp_path / "v.jsonl"
    assert atomic.complete_lines(path) == []
    atomic.append_line(path, '{"a": 1}')
    atomic.append_line(path, '{"b": "é"}')
    assert atomic.complete_lines(path) == ['{"a": 1}', '{"b": "é"}']
    with open(path, "ab") as f:          # what a crash in the middle of a write could leave
        f.write(b'{"c": ')
    assert atomic.complete_lines(path) == ['{"a": 1}', '{"b": "é"}']
    assert path.read_bytes() == b'{"a": 1}\n{"b": "\xc3\xa9"}\n'
    atomic.append_line(path, '{"c": 3}')
    assert atomic.complete_lines(path)[-1] == '{"c": 3}'
    with pytest.raises(ValueError):
        atomic.append_line(path, "two\nlines")
