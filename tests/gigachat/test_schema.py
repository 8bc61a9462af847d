"""schema.normalize: what agents send as function parameters, made into what GigaChat accepts."""

from __future__ import annotations

import copy
import time
from typing import Any

import msgspec
import pytest
from gigachat.models.chat import Function, FunctionParameters
from gigachat.models.chat_completions import ChatFunctionSpecification

from gpt2giga.gigachat import schema

V1_KEYS = {"type", "description", "properties", "items", "enum", "required"}
EMPTY = {"type": "object", "properties": {}}

# Claude Code's Read-like tool, as zod-to-json-schema emits it (draft 2020-12).
CLAUDE_CODE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "description": "The absolute path to the file"},
        "offset": {
            "type": "integer",
            "exclusiveMinimum": 0,
            "maximum": 9007199254740991,
            "description": "The line number to start reading from",
        },
        "limit": {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991},
        "mode": {
            "anyOf": [{"type": "string", "enum": ["text", "binary"]}, {"type": "null"}],
            "default": None,
        },
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "kind": {"const": "read"},
        "options": {"$ref": "#/$defs/Options"},
        "empty": {"type": "object", "properties": {}, "additionalProperties": False},
        "tags": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "uniqueItems": True,
            "maxItems": 10,
        },
    },
    "required": ["file_path", "ghost"],
    "additionalProperties": False,
    "$defs": {
        "Options": {
            "type": "object",
            "title": "Options",
            "properties": {"encoding": {"type": "string", "format": "hostname"}},
            "required": ["encoding"],
        }
    },
}

CLAUDE_CODE_V1 = {
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "description": "The absolute path to the file"},
        "offset": {
            "type": "integer",
            "description": "The line number to start reading from (exclusiveMinimum: 0)",
        },
        "limit": {"type": "integer"},
        "mode": {"type": "string", "enum": ["text", "binary"]},
        "level": {"type": "integer", "description": "One of 1, 2, 3"},
        "kind": {"enum": ["read"]},
        "options": {
            "type": "object",
            "properties": {"encoding": {"type": "string", "description": "Format: hostname"}},
            "required": ["encoding"],
        },
        "empty": {"type": "object", "properties": {}},
        "tags": {
            "type": "array",
            "items": {"type": "string", "description": "MinLength: 1"},
            "description": "UniqueItems: true; maxItems: 10",
        },
    },
    "required": ["file_path"],
}

CLAUDE_CODE_V2 = {
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "description": "The absolute path to the file"},
        "offset": {
            "type": "integer",
            "description": "The line number to start reading from (exclusiveMinimum: 0)",
        },
        "limit": {"type": "integer"},
        "mode": {"type": "string", "enum": ["text", "binary"]},
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "kind": {"enum": ["read"]},
        "options": {
            "type": "object",
            "properties": {"encoding": {"type": "string", "format": "hostname"}},
            "required": ["encoding"],
        },
        "empty": {"type": "object", "properties": {}},
        "tags": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "maxItems": 10,
            "description": "UniqueItems: true",
        },
    },
    "required": ["file_path"],
}

# Gemini's OpenAPI subset: upper-case types, nullable, format, propertyOrdering.
GEMINI = {
    "type": "OBJECT",
    "properties": {
        "city": {"type": "STRING", "description": "City name", "nullable": True},
        "unit": {"type": "STRING", "enum": ["C", "F"], "format": "enum"},
        "days": {"type": "INTEGER", "format": "int32", "minimum": 1, "maximum": 14},
        "spots": {
            "type": "ARRAY",
            "items": {
                "type": "OBJECT",
                "properties": {"lat": {"type": "NUMBER"}, "lon": {"type": "NUMBER"}},
                "required": ["lat", "lon"],
                "propertyOrdering": ["lat", "lon"],
            },
            "minItems": 1,
        },
        "anything": {"type": "TYPE_UNSPECIFIED"},
    },
    "required": ["city", "unit"],
    "propertyOrdering": ["city", "unit", "days", "spots"],
}

GEMINI_V1 = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["C", "F"]},
        "days": {"type": "integer", "description": "Format: int32; minimum: 1; maximum: 14"},
        "spots": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                "required": ["lat", "lon"],
            },
            "description": "MinItems: 1",
        },
        "anything": {"type": "string"},
    },
    "required": ["city", "unit"],
}

GEMINI_V2 = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["C", "F"]},
        "days": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 14},
        "spots": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                "required": ["lat", "lon"],
            },
            "minItems": 1,
        },
        "anything": {"type": "string"},
    },
    "required": ["city", "unit"],
}

TREE = {
    "$defs": {
        "Node": {
            "type": "object",
            "description": "A tree node",
            "properties": {
                "value": {"type": "integer"},
                "left": {"$ref": "#/$defs/Node"},
                "right": {"$ref": "#/$defs/Node"},
            },
        }
    },
    "type": "object",
    "properties": {"root": {"$ref": "#/$defs/Node"}},
}


def keys_everywhere(node: Any) -> set[str]:
    """Every key used by a schema node and its sub-schemas."""
    if not isinstance(node, dict):
        return set()
    keys = set(node)
    for sub in (node.get("properties") or {}).values():
        keys |= keys_everywhere(sub)
    return keys | keys_everywhere(node.get("items"))


def accepted_by_sdk(params: dict[str, Any], contract: str) -> None:
    """The gigachat SDK's own models take the parameters as GigaChat's function parameters."""
    encoded = msgspec.json.encode({"name": "tool", "parameters": params})
    if contract == "v1":
        fn = Function.model_validate_json(encoded)
        FunctionParameters.model_validate(params)
        assert fn.parameters is not None
    else:
        spec = ChatFunctionSpecification.model_validate_json(encoded)
        assert spec.parameters == params


@pytest.mark.parametrize(
    ("raw", "contract", "expected"),
    [
        (CLAUDE_CODE, "v1", CLAUDE_CODE_V1),
        (CLAUDE_CODE, "v2", CLAUDE_CODE_V2),
        (GEMINI, "v1", GEMINI_V1),
        (GEMINI, "v2", GEMINI_V2),
    ],
    ids=["claude-code-v1", "claude-code-v2", "gemini-v1", "gemini-v2"],
)
def test_agent_schemas_become_what_gigachat_reads(
    raw: dict[str, Any], contract: str, expected: dict[str, Any]
) -> None:
    result = schema.normalize(copy.deepcopy(raw), contract)  # type: ignore[arg-type]
    assert result == expected
    accepted_by_sdk(result, contract)


@pytest.mark.parametrize("raw", [CLAUDE_CODE, GEMINI, TREE], ids=["claude", "gemini", "tree"])
def test_v1_output_uses_only_the_sdk_function_keys(raw: dict[str, Any]) -> None:
    result = schema.normalize(raw, "v1")
    assert keys_everywhere(result) <= V1_KEYS
    accepted_by_sdk(result, "v1")


@pytest.mark.parametrize("contract", ["v1", "v2"])
@pytest.mark.parametrize(
    "raw",
    [None, b"null", {}, b"{}", {"type": "object"}, b'{"type":"object"}', {"$schema": "x"}, b"[]"],
)
def test_missing_or_empty_schema_is_an_object_without_properties(
    raw: dict[str, Any] | bytes | None, contract: str
) -> None:
    result = schema.normalize(raw, contract)  # type: ignore[arg-type]
    assert result == EMPTY
    accepted_by_sdk(result, contract)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"type": "string", "description": "A query"},
            {
                "type": "object",
                "properties": {"value": {"type": "string", "description": "A query"}},
                "required": ["value"],
            },
        ),
        (
            {"type": "array", "items": {"type": "number"}},
            {
                "type": "object",
                "properties": {"value": {"type": "array", "items": {"type": "number"}}},
                "required": ["value"],
            },
        ),
        (
            {"properties": {"q": {"type": "string"}}},
            {"type": "object", "properties": {"q": {"type": "string"}}},
        ),
    ],
    ids=["string-root", "array-root", "untyped-object-root"],
)
def test_a_root_that_is_not_an_object_becomes_its_single_field(
    raw: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert schema.normalize(raw, "v2") == expected


@pytest.mark.parametrize(
    ("raw", "wrapped"),
    [
        ({"type": "string"}, True),
        ({"type": "ARRAY", "items": {"type": "OBJECT"}}, True),
        (b'{"type": ["integer", "null"]}', True),
        ({"anyOf": [{"type": "null"}, {"type": "number"}]}, True),
        ({"$ref": "#/$defs/A", "$defs": {"A": {"type": "array"}}}, True),
        ({"type": "object", "properties": {"value": {"type": "string"}}}, False),
        ({"properties": {"q": {"type": "string"}}}, False),
        ({}, False),
        (None, False),
        (b"null", False),
        (b"[]", False),
    ],
)
def test_wraps_says_when_the_root_became_a_value_field(
    raw: dict[str, Any] | bytes | None, wrapped: bool
) -> None:
    assert schema.wraps(raw) is wrapped
    result = schema.normalize(raw, "v2")  # type: ignore[arg-type]
    assert (result.get("required") == [schema.WRAP_KEY]) is wrapped


# google-genai dumps Gemini's Schema with pydantic's own (snake_case) field names.
GEMINI_SNAKE = {
    "type": "OBJECT",
    "properties": {
        "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "max_items": 3, "min_items": 1},
        "name": {"type": "STRING", "min_length": 2, "max_length": 8},
        "when": {"any_of": [{"type": "STRING"}, {"type": "INTEGER"}]},
        "max_items": {"type": "INTEGER", "description": "A property, not a keyword"},
        "meta": {"type": "OBJECT", "additional_properties": True, "min_properties": 1},
    },
    "property_ordering": ["tags", "name", "when", "max_items", "meta"],
    "required": ["tags", "max_items"],
}


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        (
            "v2",
            {
                "type": "object",
                "properties": {
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "maxItems": 3,
                        "minItems": 1,
                    },
                    "name": {"type": "string", "minLength": 2, "maxLength": 8},
                    "when": {"type": "string", "description": "May also be integer"},
                    "max_items": {"type": "integer", "description": "A property, not a keyword"},
                    "meta": {"type": "object", "description": "MinProperties: 1"},
                },
                "required": ["tags", "max_items"],
            },
        ),
        (
            "v1",
            {
                "type": "object",
                "properties": {
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "MaxItems: 3; minItems: 1",
                    },
                    "name": {"type": "string", "description": "MinLength: 2; maxLength: 8"},
                    "when": {"type": "string", "description": "May also be integer"},
                    "max_items": {"type": "integer", "description": "A property, not a keyword"},
                    "meta": {"type": "object", "description": "MinProperties: 1"},
                },
                "required": ["tags", "max_items"],
            },
        ),
    ],
)
def test_gemini_snake_case_keywords_read_as_their_json_schema_names(
    contract: str, expected: dict[str, Any]
) -> None:
    result = schema.normalize(GEMINI_SNAKE, contract)  # type: ignore[arg-type]
    assert result == expected
    accepted_by_sdk(result, contract)


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_recursive_ref_ends_as_a_plain_object_quickly(contract: str) -> None:
    started = time.perf_counter()
    result = schema.normalize(TREE, contract)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 1.0
    node = result["properties"]["root"]
    assert node["description"] == "A tree node"
    assert node["properties"]["value"] == {"type": "integer"}
    assert node["properties"]["left"] == {"type": "object"}
    assert node["properties"]["right"] == {"type": "object"}
    accepted_by_sdk(result, contract)


def test_self_referencing_root_does_not_hang() -> None:
    raw = {
        "type": "object",
        "properties": {"child": {"$ref": "#"}, "name": {"type": "string"}},
    }
    result = schema.normalize(raw, "v2")
    child = result["properties"]["child"]
    assert child["properties"]["name"] == {"type": "string"}
    assert child["properties"]["child"] == {"type": "object"}


def test_ref_chains_and_pointer_escapes_are_inlined() -> None:
    raw = {
        "type": "object",
        "definitions": {"a/b": {"$ref": "#/definitions/c~d"}, "c~d": {"type": "boolean"}},
        "properties": {"flag": {"$ref": "#/definitions/a~1b", "description": "On or off"}},
    }
    assert schema.normalize(raw, "v1")["properties"] == {
        "flag": {"type": "boolean", "description": "On or off"}
    }


def test_unresolvable_ref_keeps_the_rest_and_says_nothing_about_the_ref() -> None:
    raw = {"type": "object", "properties": {"x": {"$ref": "#/$defs/Missing", "type": "string"}}}
    assert schema.normalize(raw, "v1")["properties"] == {"x": {"type": "string"}}


@pytest.mark.parametrize("contract", ["v1", "v2"])
def test_exponential_ref_reuse_is_bounded(contract: str) -> None:
    defs = {f"L{i}": {"type": "object", "properties": {"a": {"$ref": f"#/$defs/L{i + 1}"},
                                                       "b": {"$ref": f"#/$defs/L{i + 1}"}}}
            for i in range(30)}  # fmt: skip
    defs["L30"] = {"type": "string"}
    raw = {"$defs": defs, "$ref": "#/$defs/L0"}
    started = time.perf_counter()
    result = schema.normalize(raw, contract)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 2.0
    assert result["type"] == "object"
    assert set(result["properties"]) == {"a", "b"}


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        (
            {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}], "description": "Where"},
            {
                "type": "object",
                "properties": {"x": {"type": "number"}},
                "required": ["x"],
                "description": "Where",
            },
        ),
        (
            {"oneOf": [{"type": "string"}, {"type": "integer"}, {"$ref": "#/$defs/Point"}]},
            {"type": "string", "description": "May also be integer or Point"},
        ),
        ({"type": ["string", "null"]}, {"type": "string"}),
        ({"anyOf": [{"type": "null"}]}, {}),
        (
            {"allOf": [{"$ref": "#/$defs/Point"}, {"properties": {"y": {"type": "number"}},
                                                   "required": ["y", "x"]}]},
            {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
            },
        ),
    ],
    ids=["optional-ref", "one-of-alternatives", "type-list-with-null", "only-null", "all-of-refs"],
)  # fmt: skip
def test_variants_fold_into_one_schema(prop: dict[str, Any], expected: dict[str, Any]) -> None:
    raw = {
        "type": "object",
        "properties": {"p": prop},
        "$defs": {
            "Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
    }
    result = schema.normalize(raw, "v1")
    assert result["properties"]["p"] == expected
    accepted_by_sdk(result, "v1")


@pytest.mark.parametrize(
    ("prop", "v1", "v2"),
    [
        ({"type": "string", "format": "uri"}, {"description": "Format: uri"}, {"format": "uri"}),
        (
            {"type": "string", "pattern": "^[A-Z]+$", "description": "Code"},
            {"description": "Code (pattern: ^[A-Z]+$)"},
            {"pattern": "^[A-Z]+$", "description": "Code"},
        ),
        ({"type": "integer", "minimum": 0}, {"description": "Minimum: 0"}, {"minimum": 0}),
        (
            {"type": "number", "exclusiveMaximum": 1.5},
            {"description": "ExclusiveMaximum: 1.5"},
            {"description": "ExclusiveMaximum: 1.5"},
        ),
        (
            {"type": "integer", "multipleOf": 5, "default": 10},
            {"description": "MultipleOf: 5; default: 10"},
            {"description": "MultipleOf: 5; default: 10"},
        ),
        (
            {"type": "string", "enum": ["Alpha", "BETA", None]},
            {"enum": ["Alpha", "BETA"]},
            {"enum": ["Alpha", "BETA", None]},
        ),
        (
            {"type": "number", "enum": [1.5, 2]},
            {"description": "One of 1.5, 2"},
            {"enum": [1.5, 2]},
        ),
        ({"type": "boolean", "const": True}, {"description": "One of true"}, {"enum": [True]}),
        (
            {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991},
            {},
            {},
        ),
        ({"type": "string", "default": None, "title": "T", "examples": ["a"]}, {}, {}),
    ],
    ids=[
        "format", "pattern", "minimum", "exclusive-maximum", "multiple-of-and-default",
        "nullable-string-enum", "number-enum", "const-bool", "zod-safe-integer", "annotations",
    ],
)  # fmt: skip
def test_constraints_are_kept_on_v2_and_said_in_words_on_v1(
    prop: dict[str, Any], v1: dict[str, Any], v2: dict[str, Any]
) -> None:
    raw = {"type": "object", "properties": {"p": prop}}
    kind = {"type": prop["type"]}
    assert schema.normalize(raw, "v1")["properties"]["p"] == {**kind, **v1}
    assert schema.normalize(raw, "v2")["properties"]["p"] == {**kind, **v2}


@pytest.mark.parametrize(
    ("required", "expected"),
    [
        (["a", "ghost", "b"], ["a", "b"]),
        (["a", "a"], ["a"]),
        (["ghost", 3, None], None),
        ([], None),
    ],
)
def test_required_names_only_existing_properties(
    required: list[Any], expected: list[str] | None
) -> None:
    raw = {"type": "object", "properties": {"a": {"type": "string"}, "b": {}}, "required": required}
    for contract in ("v1", "v2"):
        result = schema.normalize(raw, contract)
        assert result.get("required") == expected


@pytest.mark.parametrize(
    ("all_of", "expected"),
    [
        ([{"type": "string", "minLength": 1}], {"type": "string", "minLength": 1}),
        (
            [
                {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]},
                {"properties": {"y": {}, "x": {"type": "integer"}}, "required": ["y", "x"]},
            ],
            {
                "type": "object",
                "properties": {"x": {"type": "string"}, "y": {}},
                "required": ["x", "y"],
            },
        ),
    ],
    ids=["single-scalar-part", "parts-add-up-first-wins"],
)
def test_all_of_merges_its_parts(all_of: list[Any], expected: dict[str, Any]) -> None:
    raw = {"type": "object", "properties": {"p": {"allOf": all_of}}}
    assert schema.normalize(raw, "v2")["properties"]["p"] == expected


def test_description_keeps_the_case_of_what_it_quotes() -> None:
    raw = {
        "type": "object",
        "properties": {"p": {"type": "integer", "enum": [1], "format": "UUID"}},
    }
    assert schema.normalize(raw, "v1")["properties"]["p"]["description"] == "One of 1; format: UUID"


def test_dict_and_raw_bytes_give_equal_memoised_results() -> None:
    raw = copy.deepcopy(CLAUDE_CODE)
    from_dict = schema.normalize(raw, "v2")
    from_bytes = schema.normalize(msgspec.json.encode(raw), "v2")
    assert from_dict == from_bytes == CLAUDE_CODE_V2
    assert schema.normalize(raw, "v2") is from_dict
    assert schema.normalize(msgspec.json.encode(raw), "v2") is from_bytes


def test_memo_is_per_contract() -> None:
    raw = {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}
    assert schema.normalize(raw, "v1")["properties"]["d"] == {
        "type": "string",
        "description": "Format: date",
    }
    assert schema.normalize(raw, "v2")["properties"]["d"] == {"type": "string", "format": "date"}


def test_memo_stays_bounded() -> None:
    for n in range(schema.CACHE_SIZE + 10):
        schema.normalize({"type": "object", "description": f"tool {n}"}, "v1")
    assert len(schema._cache) <= schema.CACHE_SIZE
