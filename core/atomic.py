"""The one place for atomic writes: a reader never sees half a file or half a folder.

* ``write_text(path, text)``: a temporary file beside ``path``, flushed to disk, then renamed.
* ``folder(final)``: a context manager yielding a fresh temporary folder beside ``final``; when the
  block ends normally the folder is put in place (``replace_dir``), on an error it is removed and
  ``final`` is left as it was.
* ``replace_dir(tmp, final)``: the rename step for a finished folder.

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
