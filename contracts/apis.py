"""What the suite knows of each API beyond its spec: how it answers outside the spec, and its tour and machine."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ApiProfile:
    name: str
    # The answer to an HTTP method the spec does not declare on a declared path. RFC 9110 says 405; a
    # WordPress plugin route answers exactly like an unknown route (404 `rest_no_route`), so that is its contract.
    undeclared_method_statuses: tuple[int, ...]
    undeclared_method_error_code: str | None  # the `code` such an answer carries, if the API words it
    # Statuses a schema-valid request may still get besides 2xx/401/403/404/409/429/5xx (the schemathesis
    # defaults): e.g. 402 when a prepaid balance does not cover the call.
    valid_input_statuses: tuple[int, ...]
    tour_module: str  # contracts.tours.<api>: the responses layer's scripted requests
    machine_module: str  # contracts.machines.<api>: the stateful layer's state machine

    def tour(self) -> Any:
        return importlib.import_module(self.tour_module)

    def machine(self) -> Any:
        return importlib.import_module(self.machine_module)


PROFILES = {
    "lucydream": ApiProfile(
        name="lucydream",
        undeclared_method_statuses=(404,),
        undeclared_method_error_code="rest_no_route",
        valid_input_statuses=(402,),
        tour_module="contracts.tours.lucydream",
        machine_module="contracts.machines.lucydream",
    ),
}


def profile(api: str) -> ApiProfile:
    if api not in PROFILES:
        raise LookupError(f"no contracts for API {api!r}; known: {', '.join(sorted(PROFILES))}")
    return PROFILES[api]
