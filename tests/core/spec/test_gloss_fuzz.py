"""Property tests: for arbitrary JSON, parsing returns a valid spec or raises InputError, nothing else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.spec.errors import InputError
from core.spec.gloss import GlossSpec
from tests.conftest import tiny_spec_dict

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FIELDS = list(tiny_spec_dict())


def _parse(data):
    try:
        spec = GlossSpec.from_dict(data)
    except InputError as exc:
        assert exc.problems and all(p.field and p.problem for p in exc.problems)
        return None
    # Whatever parses must survive a JSON round trip unchanged.
    assert GlossSpec.from_json(spec.to_json()) == spec
    return spec


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_values(data):
    _parse(data)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS + ["extra"]), json_values, max_size=len(FIELDS) + 1))
def test_arbitrary_objects_with_spec_keys(data):
    _parse(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FIELDS), json_values)
def test_one_field_replaced_by_anything(field, value):
    data = tiny_spec_dict()
    data[field] = value
    _parse(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([f for f in FIELDS if isinstance(tiny_spec_dict()[f], list)]),
       st.lists(st.text(max_size=60), max_size=8))
def test_list_fields_with_arbitrary_text(field, items):
    data = tiny_spec_dict()
    data[field] = items
    spec = _parse(data)
    if spec is not None:
        assert all(item == item.strip() and item for item in getattr(spec, field))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_bytes_and_text(raw):
    try:
        GlossSpec.from_json(raw)
    except InputError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=len(json.dumps(tiny_spec_dict()))))
def test_truncated_json(cut):
    text = json.dumps(tiny_spec_dict())
    try:
        spec = GlossSpec.from_json(text[:cut])
    except InputError as exc:
        assert exc.problems[0].field
    else:
        assert spec.to_dict() == GlossSpec.from_dict(tiny_spec_dict()).to_dict()
