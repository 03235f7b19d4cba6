"""Putting a finished folder in place so that a reader never sees half of it."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


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
