"""What the suite knows of each API beyond its spec: how it answers outside the spec, and its tour and machine."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

# A key the server does not accept: LovlyChat and AliveAI document 401, LucyDream 403 (either means "refused").
REFUSED = (401, 403)
# every API's near-miss properties, read from its spec: credentials almost valid, another tenant's ids almost theirs
PROBES = ("contracts.probes.authentication", "contracts.probes.isolation")


@dataclass(frozen=True)
class KeyProbe:
    """A request that shows whether the server accepts a key and can cost nothing."""

    method: str
    path: str
    body: Any = None  # JSON; None: no body


@dataclass(frozen=True)
class Login:
    """How a user logs in for a bearer token: POST `path` with {email, password}, the token in `token_field`."""

    path: str
    token_field: str


@dataclass(frozen=True)
class ApiProfile:
    name: str
    # The answer to an HTTP method the spec does not declare on a declared path. RFC 9110 says 405 (then
    # schemathesis' own unsupported_method check applies); a WordPress plugin route answers exactly like an
    # unknown route (404 `rest_no_route`), so that is its contract.
    undeclared_method_statuses: tuple[int, ...]
    undeclared_method_error_code: str | None  # the top-level `code` such an answer carries, if the API words it
    # Statuses a schema-valid request may still get besides 2xx/401/403/404/409/429/5xx (the schemathesis
    # defaults): e.g. 402 when a prepaid balance does not cover the call.
    valid_input_statuses: tuple[int, ...]
    tour_module: str  # contracts.tours.<api>: the responses layer's scripted requests
    machine_module: str  # contracts.machines.<api>: the stateful layer's state machine
    key_probe: KeyProbe
    # with an admin token and no --key: the opening balance of the tenant the run makes for the layers that
    # need a key (the schema layer spends it freely); the mock's demo balance
    own_balance: float
    # Fields whose schema-valid values may still be refused with 400 (`error.details[].field`): what no schema
    # can say, e.g. that an asset id names an asset of this wallet.
    valid_input_rejections: tuple[str, ...] = ()
    job_operation: tuple[str, str] | None = None  # (method, path) that queues a paid job answering its `id`
    # More properties of the stateful layer, each a module with `run(session)` (e.g. concurrent debits)
    property_modules: tuple[str, ...] = ()
    login: Login | None = None  # users log in for a bearer token (--email/--password)
    # the API's keys have a form of their own (AliveAI: UUIDs): the tenants the suite makes get keys the server
    # issues rather than keys of the suite's making
    issued_keys: bool = False
    # operations the schema and responses layers do not send yet (by tag; AliveAI's chat routes, judged only
    # by the stateful layer's chat properties), and the report says they were not verified
    unchecked_tags: tuple[str, ...] = ()

    def tour(self) -> Any:
        return importlib.import_module(self.tour_module)

    def machine(self) -> Any:
        return importlib.import_module(self.machine_module)

    def properties(self) -> list[Any]:
        return [importlib.import_module(module) for module in self.property_modules]


PROFILES = {
    "lucydream": ApiProfile(
        name="lucydream",
        undeclared_method_statuses=(404,),
        undeclared_method_error_code="rest_no_route",
        valid_input_statuses=(402,),
        tour_module="contracts.tours.lucydream",
        machine_module="contracts.machines.lucydream",
        # the only route: a body without a prompt is refused (400) before anything is charged
        key_probe=KeyProbe("POST", "/wp-json/apiservices/v1/generate", {}),
        own_balance=5.0,
        property_modules=PROBES,
    ),
    "lovlychat": ApiProfile(
        name="lovlychat",
        undeclared_method_statuses=(405,),
        undeclared_method_error_code=None,  # `error.code` method_not_allowed: the tour checks it
        valid_input_statuses=(402,),
        tour_module="contracts.tours.lovlychat",
        machine_module="contracts.machines.lovlychat",
        key_probe=KeyProbe("GET", "/v1/pricing"),
        own_balance=500,
        valid_input_rejections=("sourceAssetId", "cursor"),
        job_operation=("POST", "/v1/generation/jobs"),
        property_modules=("contracts.races.lovlychat", *PROBES),
    ),
    "aliveai": ApiProfile(
        name="aliveai",
        undeclared_method_statuses=(405,),
        undeclared_method_error_code=None,  # an RFC 7807 problem with Allow: schemathesis' own check applies
        valid_input_statuses=(402,),
        tour_module="contracts.tours.aliveai",
        machine_module="contracts.machines.aliveai",
        key_probe=KeyProbe("GET", "/members/me"),
        own_balance=1000,
        valid_input_rejections=("image",),  # an upload whose bytes are no picture (the schema says: binary)
        # the websocket channels; the NDJSON chat replies, the chat machine and the chat routes' isolation
        property_modules=("contracts.protocols.websockets", "contracts.protocols.streams",
                          "contracts.machines.aliveai_chat", "contracts.protocols.chat_isolation", *PROBES),
        login=Login("/members/login", "accessToken"),
        issued_keys=True,
    ),
}


def profile(api: str) -> ApiProfile:
    if api not in PROFILES:
        raise LookupError(f"no contracts for API {api!r}; known: {', '.join(sorted(PROFILES))}")
    return PROFILES[api]
