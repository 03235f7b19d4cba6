"""The one place for atomic writes: a reader never sees half a file or half a folder.

* ``write_text(path, text)``: a temporary file beside ``path``, flushed to disk, then renamed.
* ``folder(final)``: a context manager yielding a fresh temporary folder beside ``final``; when the
  block ends normally the folder is put in place (``replace_dir``), on an error it is removed and
  ``final`` is left as it was.
* ``replace_dir(tmp, final)``: the rename step for a finished folder.
* ``append_line(path, line)`` / ``complete_lines(path)``: a file that grows one line at a time
  (one ``write`` of the whole line with ``O_APPEND``, then ``fsync``); a line cut short by a crash
  is the only thing that can be left over, and ``complete_lines`` removes it before more is added.

A process killed at any point leaves either the old content or the new, plus at worst a hidden
leftover (``.<name>.tmp-…``) beside it. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def replace_dir(tmp: Path, final: Path) -> Path:
    """Move the complete folder ``tmp`` to ``final``, replacing an earlier ``final`` if there is one.

    Both live in the same parent folder, so each step is a rename: ``final`` is always either the
    old complete folder or the new one (absent only for the instant between the two renames).
    On failure ``tmp`` is removed and the error raised.
    """
    try:
        if final.exists():
            old = final.parent / f".{final.name}.old-{secrets.token_hex(3)}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


@contextlib.contextmanager
def folder(final: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """Yield a new, empty hidden folder ``.<name>.tmp-<hex>`` beside ``final`` to fill.

    On a normal exit it becomes ``final`` (an earlier ``final`` is replaced, or with
    ``replace=False`` the rename fails if a non-empty ``final`` appeared meanwhile). On an
    exception the temporary folder is removed, ``final`` is untouched, and the error re-raised.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = final.parent / f".{final.name}.tmp-{secrets.token_hex(4)}"
        try:
            tmp.mkdir()
            break
        except FileExistsError:
            continue
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if replace:
        replace_dir(tmp, final)
    else:
        try:
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append ``line`` and a line break to ``path`` in one ``write`` (``O_APPEND``), then fsync."""
    if "\n" in line:
        raise ValueError("a line holds no line break")
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        while written < len(data):  # a short write (rare): the rest, still appended
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_lines(path: str | os.PathLike) -> list[str]:
    """The complete lines of a file grown by ``append_line`` (none if it does not exist); a last
    line without its line break (a write cut short) is cut off the file, so the next append starts
    a line of its own."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
    return data[:end].decode("utf-8").splitlines()
