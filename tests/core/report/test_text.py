"""The one escaper, numbers and the palette."""

from __future__ import annotations

import math

import pytest

from core.report.text import PALETTE, finite, html_text, md, num, setting_value


@pytest.mark.parametrize("raw, expected", [
    ("wool shop", "wool shop"),
    ("4.0196 (Bliss 29111)", "4.0196 (Bliss 29111)"),
    ("a | b", "a \\| b"),
    ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
    ("*bold* _it_ `code` [link](x) ~~s~~", "\\*bold\\* \\_it\\_ \\`code\\` \\[link\\](x) \\~\\~s\\~\\~"),
    ("back\\slash", "back\\\\slash"),
    ("Random input & output", "Random input & output"),
    ("&lt; typed", "&amp;lt; typed"),
    ("# heading", "\\# heading"),
    ("- item\n+ more\n1. first", "\\- item<br>\\+ more<br>\\1. first"),
    ("> quote", "&gt; quote"),  # an entity never starts a quote
    ("line one\nline two", "line one<br>line two"),
    ("well-known 3-4", "well-known 3-4"),
])
def test_md_shows_text_as_typed_and_keeps_a_table_row_one_row(raw, expected):
    assert md(raw) == expected
    assert "\n" not in md(raw)


def test_md_is_safe_in_a_rendered_table_cell():
    from markdown_it import MarkdownIt

    hostile = "x | y\n<img src=x onerror=alert(1)> *z* [a](javascript:b)"
    table = f"| h |\n|---|\n| {md(hostile)} |\n"
    rendered = MarkdownIt("commonmark").enable("table").render(table)
    assert rendered.count("<tr>") == 2 and "<img" not in rendered and "<em>" not in rendered
    assert "<a " not in rendered and "onerror" in rendered  # shown as text


def test_numbers_and_settings_read_as_written():
    assert num(None) == "" and num(True) == "yes" and num(43300.0) == "43300" and num(0.123456) == "0.1235"
    assert num(math.nan) == "—" and num(123456.7) == "123456.7"
    assert setting_value(1e-05) == "1e-05" and setting_value(["a", "b"]) == "a, b" and setting_value(False) == "no"
    assert finite(1.0) and not finite(math.inf) and not finite(True) and not finite("1")
    assert html_text('a "b"\nc') == "a &quot;b&quot;<br>c"
    assert len(PALETTE) == len(set(PALETTE)) >= 8
