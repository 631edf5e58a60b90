"""policy/rules/props.py: reading props that a preview may leave unknown, as the analyzer sends them."""

from __future__ import annotations

import json

from policy_harness import UNKNOWN_ARRAY, UNKNOWN_BOOL, UNKNOWN_NUMBER, UNKNOWN_OBJECT, UNKNOWN_STRING
from pulumi_policy.proxy import unknown_checking_proxy

from policy.rules.props import UNKNOWN, as_mapping, elements, get, number, shown

PROPS = unknown_checking_proxy(
    {
        "known": {"list": ["a", "b"], "flag": False},
        "pending": UNKNOWN_OBJECT,
        "items": UNKNOWN_ARRAY,
        "enabled": UNKNOWN_BOOL,
        "count": UNKNOWN_NUMBER,
        "name": UNKNOWN_STRING,
    }
)


def test_get_reads_nested_values_and_none_when_absent() -> None:
    assert get(PROPS, "known", "list", 1) == "b"
    assert get(PROPS, "known", "flag") is False
    assert get(PROPS, "known", "list", 5) is None
    assert get(PROPS, "missing", "deeper") is None
    assert get(PROPS, "known", "list", "key") is None


def test_get_turns_every_unknown_into_unknown() -> None:
    for key in ("pending", "items", "enabled", "count", "name"):
        assert get(PROPS, key) is UNKNOWN, key
    assert get(PROPS, "pending", "below", "that") is UNKNOWN


def test_elements_lists_known_values_and_passes_unknown_on() -> None:
    assert elements(PROPS, "known", "list") == ["a", "b"]
    assert elements(PROPS, "missing") == []
    assert elements(PROPS, "items") is UNKNOWN
    assert elements({"one": "x"}, "one") == ["x"]


def test_as_mapping_decodes_json_documents() -> None:
    assert as_mapping(json.dumps({"Statement": []})) == {"Statement": []}
    assert as_mapping("not json") is None
    assert as_mapping(UNKNOWN_STRING) is UNKNOWN
    assert as_mapping(["a"]) is None


def test_number_and_shown() -> None:
    assert number(7.0) == 7 and number("10") == 10
    assert number(True) is None and number(UNKNOWN) is None and number("ten") is None
    assert shown(7.0) == "7" and shown("ROLLING") == "ROLLING"
