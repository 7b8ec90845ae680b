"""The specs are valid OpenAPI 3.0.3, say where each operation comes from, and the mock serves exactly them."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from mockserver import dialects
from mockserver.admin import HANDLERS as ADMIN_HANDLERS
from mockserver.spec import SPECS_DIR, compile_spec, load_document

# the OpenAPI documents (an AsyncAPI document, *.asyncapi.yaml, describes websockets beside one of them)
SPEC_FILES = sorted(path.name for path in SPECS_DIR.glob("*.yaml") if not path.name.endswith(".asyncapi.yaml"))
PROVENANCE = {"documented", "observed", "inferred"}


@pytest.mark.parametrize("name", SPEC_FILES)
def test_spec_is_valid_openapi_3_0_3(name: str) -> None:
    document = load_document(name)
    assert document["openapi"] == "3.0.3"
    validate(document)


@pytest.mark.parametrize("api", dialects.NAMES)
def test_every_operation_and_every_x_provenance_is_marked(api: str) -> None:
    document = load_document(dialects.load(api).spec)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                assert operation.get("x-provenance") in PROVENANCE, f"{method.upper()} {path}"

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "x-provenance" in node:
                assert node["x-provenance"] in PROVENANCE, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


@pytest.mark.parametrize("api", dialects.NAMES)
def test_each_dialect_handles_exactly_its_specs_operations(api: str) -> None:
    dialect = dialects.load(api)
    operation_ids = {operation.operation_id for operation in compile_spec(dialect.spec).operations}
    assert operation_ids == set(dialect.handlers)


def test_the_admin_api_handles_exactly_its_specs_operations() -> None:
    operation_ids = {operation.operation_id for operation in compile_spec("admin.yaml").operations}
    assert operation_ids == set(ADMIN_HANDLERS)
    assert all(operation.path.startswith("/__genmock/") for operation in compile_spec("admin.yaml").operations)


def test_the_api_specs_never_use_the_admin_prefix() -> None:
    for api in dialects.NAMES:
        assert not any(path.startswith("/__genmock") for path in load_document(dialects.load(api).spec)["paths"])
