"""A spec's fields: every field has help, an order, and limits the page can count against."""

from __future__ import annotations

from dataclasses import fields

from core.spec import limits
from core.spec.fields import CONTEXT_FIELDS, FIELD_HELP, LIST_FIELDS, OPTIONAL_FIELDS, SENTENCE_FIELDS, SPEC_FIELDS, \
    field_limits
from core.spec.gloss import GlossSpec


def test_every_field_of_a_spec_is_listed_once_with_its_help():
    names = [f.name for f in fields(GlossSpec)]
    assert sorted(SPEC_FIELDS) == sorted(names) and len(set(SPEC_FIELDS)) == len(SPEC_FIELDS)
    assert set(FIELD_HELP) == set(names)
    assert set(CONTEXT_FIELDS) | set(SENTENCE_FIELDS) < set(LIST_FIELDS) <= set(names)
    assert set(OPTIONAL_FIELDS) <= set(names) - set(LIST_FIELDS)


def test_limits_per_field_are_the_declared_ones():
    found = field_limits(SPEC_FIELDS)
    assert found["positive_contexts"]["min"], found["positive_contexts"]["max"] == limits.COUNTS["positive_contexts"]
    assert found["description"] == {"min": None, "max": None, "chars": limits.DESCRIPTION_CHARS,
                                    "help": FIELD_HELP["description"]}
    assert found["fine_tuning_sentences"]["chars"] == limits.TEXT_CHARS
