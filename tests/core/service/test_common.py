"""What the parts share, and the promise of the whole package: no torch on import."""


from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.spec.errors import InputError

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_service_and_the_ui_does_not_import_torch():
    code = ("import sys, core.service, glossui, glossui.page, glossui.plots, glossui.tabs.vocabulary; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_collect_gathers_every_problem_and_raise_all_raises_them_together():
    from core.service.common import Downloads, collect, raise_all
    from core.spec.errors import fail

    def bad(field):
        def check():
            raise fail(field, "is wrong", "fix it")
        return check

    assert [p.field for p in collect(bad("a"), lambda: None, bad("b"))] == ["a", "b"]
    raise_all(lambda: None)
    with pytest.raises(InputError) as err:
        raise_all(bad("a"), bad("b"))
    assert err.value.fields == ["a", "b"]
    downloads = Downloads()
    assert downloads.folder() != downloads.folder() and downloads.folder().parent == downloads.root
