"""specs/aliveai.yaml and its AsyncAPI companion: valid, complete against the record, compilable, loadable by
schemathesis, every reference resolving and every example valid.

The record of the published OpenAPI document is `aliveai-structure.md` in the shared api-facts folder beside the
repository (`../shared/api-facts/`, or the file named by ALIVEAI_STRUCTURE); the test that compares the spec with
it is skipped where that folder is not there.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from mockserver.spec import compile_spec, load_document, to_json_schema

SPEC = "aliveai.yaml"
ASYNCAPI = "aliveai.asyncapi.yaml"
PROVENANCE = {"documented", "observed", "inferred"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# The Lora Resource is in the newer published docs only; its paths are decided in the spec
LORA_OPERATIONS = {("GET", "/loras/type/{templateType}"), ("GET", "/loras/{templateId}")}
PROBLEM_TYPES = {"application/problem+json", "application/json"}


def _structure_file() -> Path | None:
    named = os.environ.get("ALIVEAI_STRUCTURE")
    candidates = [Path(named)] if named else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "api-facts" / "aliveai-structure.md")
    return next((path for path in candidates if path.is_file()), None)


def _published_operations() -> dict[tuple[str, str], str | None]:
    """(METHOD, path) -> operationId (None where the published document gives none), from the record's table."""
    path = _structure_file()
    if path is None:
        pytest.skip("the AliveAI record (shared/api-facts/aliveai-structure.md) is not beside the repository")
    table = path.read_text(encoding="utf-8").split("## Operations", 1)[1].split("## Schemas", 1)[0]
    rows = {}
    for line in table.splitlines():
        found = re.match(r"^\|\s*(GET|PUT|POST|DELETE|PATCH)\s*\|\s*`([^`]+)`\s*\|\s*([^|\s]+)\s*\|", line)
        if found:
            method, route, operation_id = found.groups()
            rows[(method, route)] = None if operation_id == "-" else operation_id
    assert len(rows) == 75, f"the record's table has {len(rows)} operations"
    return rows


def _document() -> dict[str, Any]:
    return load_document(SPEC)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for route, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), route, item[method]


def _walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """Every (json-pointer-ish location, node) of a parsed document."""
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


def _pointer(document: dict[str, Any], pointer: str) -> Any:
    target: Any = document
    for part in pointer.removeprefix("#").removeprefix("/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    """A JSON Schema validator for an OpenAPI 3.0 schema of `document` (refs into its components)."""
    definitions = {name: to_json_schema(value) for name, value in document["components"]["schemas"].items()}
    return jsonschema.Draft4Validator({**to_json_schema(schema), "definitions": definitions},
                                      format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def _request_schemas(document: dict[str, Any]) -> set[str]:
    """Component schemas a JSON request body can contain."""
    schemas = document["components"]["schemas"]
    names: set[str] = set()
    todo = [op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
            for _, _, op in _operations(document)
            if "application/json" in op.get("requestBody", {}).get("content", {})]
    while todo:
        name = todo.pop()
        if name not in names:
            names.add(name)
            todo.extend(node["$ref"].split("/")[-1] for _, node in _walk(schemas[name])
                        if isinstance(node, dict) and "$ref" in node)
    return names


# -- the OpenAPI document ---------------------------------------------------------------------------------------

def test_the_spec_is_valid_openapi_3_0_3() -> None:
    document = _document()
    assert document["openapi"] == "3.0.3"
    validate(copy.deepcopy(document))


def test_it_has_the_published_operations_with_their_operation_ids() -> None:
    published = _published_operations()
    document = _document()
    ours = {(method, route): operation for method, route, operation in _operations(document)}
    assert set(ours) == set(published) | LORA_OPERATIONS
    assert len(ours) == 77
    for key, operation_id in published.items():
        if operation_id is not None:
            assert ours[key]["operationId"] == operation_id, key
        else:  # named here: marked, and said so
            assert ours[key]["x-provenance"] == "inferred", key
            assert "no operationId" in ours[key]["x-provenance-note"], key
    for key in LORA_OPERATIONS:
        assert ours[key]["x-provenance"] == "inferred"
    operation_ids = [operation["operationId"] for operation in ours.values()]
    assert len(set(operation_ids)) == len(operation_ids)
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", operation_id) for operation_id in operation_ids)


def test_it_compiles_for_the_mock() -> None:
    compiled = compile_spec(SPEC)
    assert len(compiled.operations) == 77
    operations = {operation.operation_id: operation for operation in compiled.operations}
    assert operations["uploadImage"].max_body_bytes == 20971520
    # both schemes everywhere but on the example routes (Key only) and login (none needed, Key accepted)
    assert {scheme.name for requirement in operations["createPrompt"].security for scheme in requirement} == \
        {"SecurityScheme", "ApiKeyScheme"}
    assert [[scheme.name for scheme in requirement] for requirement in operations["login"].security] == \
        [[], ["ApiKeyScheme"]]
    assert [[scheme.name for scheme in requirement]
            for requirement in operations["getWebsocketExamplePromptEvent"].security] == [["ApiKeyScheme"]]


def test_requests_are_lenient_but_enforce_enums_required_fields_and_bounds() -> None:
    create = {operation.operation_id: operation for operation in compile_spec(SPEC).operations}["createPrompt"]
    valid = {"name": "Aiko Tanaka", "appearance": "black bob haircut", "detailLevel": "HIGH"}
    assert create.body_validator.is_valid({**valid, "cfg": 7.5, "faceImproveStrength": 2.5, "notInTheSpec": [1]})
    assert not create.body_validator.is_valid({**valid, "cfg": 11})
    assert not create.body_validator.is_valid({**valid, "detailLevel": "ULTRA"})
    assert not create.body_validator.is_valid({**valid, "seed": "12a"})
    assert not create.body_validator.is_valid({key: value for key, value in valid.items() if key != "detailLevel"})
    assert create.body_validator.is_valid({**valid, "model": "GROK"})  # the newer docs' value
    document = _document()
    schemas = document["components"]["schemas"]
    for name in _request_schemas(document):
        assert schemas[name].get("additionalProperties") is not False, name
        for field, prop in schemas[name].get("properties", {}).items():
            assert prop.get("type") != "integer", f"{name}.{field} would refuse 7.5"
            if prop.get("x-published-type") == "integer":
                assert prop["type"] == "number" and prop["format"] == "int32", f"{name}.{field}"


def test_every_ref_resolves() -> None:
    document = _document()
    refs = [(where, node["$ref"]) for where, node in _walk(document) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for where, ref in refs:
        assert ref.startswith("#/components/"), f"{where}: {ref}"
        _pointer(document, ref)


def test_every_operation_and_every_x_provenance_is_marked() -> None:
    document = _document()
    for method, route, operation in _operations(document):
        assert operation.get("x-provenance") in PROVENANCE, f"{method} {route}"
    for where, node in _walk(document):
        if isinstance(node, dict) and "x-provenance" in node:
            assert node["x-provenance"] in PROVENANCE, where
    for name, schema in document["components"]["schemas"].items():
        assert schema.get("x-provenance") in PROVENANCE, name


def test_errors_are_problem_objects() -> None:
    document = _document()
    for method, route, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            response = _pointer(document, response["$ref"]) if "$ref" in response else response
            content = response["content"]
            assert "application/problem+json" in content and set(content) <= PROBLEM_TYPES, f"{method} {route}"
            for media in content.values():
                assert media["schema"]["$ref"].split("/")[-1] in {"HttpProblem", "HttpValidationProblem"}
        if "requestBody" in operation:
            assert {"400", "408", "413"} <= set(operation["responses"]), f"{method} {route}"
        if operation.get("x-aliveai-prompt"):  # a generation: priced and queued
            assert {"402", "429"} <= set(operation["responses"]), f"{method} {route}"
    violation = document["components"]["schemas"]["Violation"]["properties"]
    assert set(violation) == {"field", "in", "message"}


def test_the_chat_streams_are_ndjson_of_the_event_union() -> None:
    document = _document()
    routes = {route: item["post"] for route, item in document["paths"].items()
              if item.get("post", {}).get("operationId") in ("sendChatMessage", "regenerateChatMessage")}
    assert len(routes) == 2
    for operation in routes.values():
        content = operation["responses"]["200"]["content"]
        assert list(content) == ["application/x-ndjson"]
        assert content["application/x-ndjson"]["schema"] == {"$ref": "#/components/schemas/ChatStreamEvent"}
    union = document["components"]["schemas"]["ChatStreamEvent"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == {"init", "token", "complete", "error"}
    assert {ref["$ref"] for ref in union["oneOf"]} == set(union["discriminator"]["mapping"].values())


def _examples(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example the OpenAPI document gives."""
    for where, node in _walk(document):
        if not isinstance(node, dict):
            continue
        if "schema" in node and isinstance(node["schema"], dict):  # a media type or a parameter
            if "example" in node:
                yield where, node["schema"], node["example"]
            for name, example in node.get("examples", {}).items():
                example = _pointer(document, example["$ref"]) if "$ref" in example else example
                yield f"{where}/examples/{name}", node["schema"], example["value"]
        elif "example" in node and ("type" in node or "properties" in node or "allOf" in node):  # a schema
            yield where, node, node["example"]


def test_every_example_is_valid_against_its_schema() -> None:
    document = _document()
    examples = list(_examples(document))
    assert len(examples) > 40
    for where, schema, example in examples:
        errors = [error.message for error in _validator(document, schema).iter_errors(example)]
        assert not errors, f"{where}: {errors}"


def test_schemathesis_loads_it_and_builds_a_case_for_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(copy.deepcopy(_document()))
    operations = [result.ok() for result in schema.get_all_operations()]  # .ok() raises on a broken operation
    assert len(operations) == 77
    strategies = [operation.as_strategy() for operation in operations]

    @settings(max_examples=1, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        for operation, strategy in zip(operations, strategies, strict=True):
            case = data.draw(strategy, label=operation.label)
            assert case.operation is operation

    draw()


# -- the AsyncAPI document --------------------------------------------------------------------------------------

def _asyncapi() -> dict[str, Any]:
    return load_document(ASYNCAPI)


def _resolve_async(ref: str) -> Any:
    """A reference of the AsyncAPI document: local, or into the OpenAPI document beside it."""
    file, _, pointer = ref.partition("#")
    if file:
        assert file == SPEC, ref
        return _pointer(_document(), pointer)
    return _pointer(_asyncapi(), pointer)


def test_the_openapi_document_names_the_asyncapi_document() -> None:
    assert _document()["x-asyncapi"] == ASYNCAPI
    assert _asyncapi()["asyncapi"] == "3.0.0"


def test_the_asyncapi_channels_and_operations() -> None:
    document = _asyncapi()
    channels = document["channels"]
    assert {name: channel["address"] for name, channel in channels.items()} == {
        "promptProgress": "/ws/prompts/{promptId}", "userEvents": "/ws/users/{userId}"}
    for channel in channels.values():
        assert set(channel["parameters"]) == set(re.findall(r"\{(\w+)\}", channel["address"]))
        assert channel["bindings"]["ws"]["method"] == "GET"
        assert channel.get("x-provenance") in PROVENANCE
    assert channels["userEvents"]["bindings"]["ws"]["query"]["required"] == ["token"]
    assert "token" in channels["promptProgress"]["bindings"]["ws"]["query"]["properties"]
    for name, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel = _resolve_async(operation["channel"]["$ref"])
        for message in operation["messages"]:
            assert message["$ref"].startswith(operation["channel"]["$ref"] + "/messages/"), name
            assert _resolve_async(message["$ref"]) in channel["messages"].values()
    assert _resolve_async(document["operations"]["sendUserEvents"]["security"][0]["$ref"])["name"] == "token"


def test_the_asyncapi_payloads_are_the_openapi_schemas() -> None:
    messages = _asyncapi()["components"]["messages"]
    payloads = {name: message["payload"] for name, message in messages.items()}
    assert {name: payload["schema"]["$ref"] for name, payload in payloads.items()} == {
        "PromptProgress": "aliveai.yaml#/components/schemas/PromptProgressResponse",
        "UserEvent": "aliveai.yaml#/components/schemas/UserEvents"}
    for payload in payloads.values():
        assert payload["schemaFormat"] == "application/vnd.oai.openapi;version=3.0.0"


def test_every_asyncapi_ref_resolves_and_every_example_is_valid() -> None:
    document = _asyncapi()
    refs = [node["$ref"] for _, node in _walk(document) if isinstance(node, dict) and "$ref" in node]
    assert any(ref.startswith(SPEC + "#") for ref in refs)
    for ref in refs:
        _resolve_async(ref)
    for name, message in document["components"]["messages"].items():
        schema = _resolve_async(message["payload"]["schema"]["$ref"])
        assert message["examples"], name
        for example in message["examples"]:
            errors = [error.message for error in _validator(_document(), schema).iter_errors(example["payload"])]
            assert not errors, f"{name} {example['name']}: {errors}"
