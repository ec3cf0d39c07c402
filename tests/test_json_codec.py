"""JSON the adapter writes is always valid JSON, on orjson's path and on the standard library's."""

from __future__ import annotations

import json

import pytest

from agents_core import json_codec
from agents_core.edge import JSONResponse


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": [float("nan"), 1.5]}, {"a": [None, 1.5]}),  # orjson's path
        ({"a": [float("nan"), 2**80, float("-inf")]}, {"a": [None, 2**80, None]}),  # stdlib's
        ({"id": 2**70, "t": ("x", float("inf"))}, {"id": 2**70, "t": ["x", None]}),
    ],
)
def test_non_finite_numbers_are_null_on_both_paths(value: object, expected: object) -> None:
    def strict(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    for body in (json_codec.dumps(value), JSONResponse(value).body):
        assert json.loads(body, parse_constant=strict) == expected
