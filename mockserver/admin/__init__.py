"""The admin API (`specs/admin.yaml`), under `/__genmock/` on every origin: seed tenants, top up, read ledgers,
drive the clock, arm faults, tune prices; watch jobs, assets and the request journal; the docs and the
dashboard. One module per group of operations."""

from __future__ import annotations

import secrets

from mockserver import dashboard, docs
from mockserver.admin import control, jobs, requests, tenants
from mockserver.admin.problems import ProblemErrors, bad_field, problem
from mockserver.routing import Handler

__all__ = ["ADMIN", "HANDLERS", "ProblemErrors", "bad_field", "new_admin_token", "problem"]

ADMIN = object()  # the principal of every authenticated admin call


def new_admin_token() -> str:
    return "gm_admin_" + secrets.token_urlsafe(24)


HANDLERS: dict[str, Handler] = {
    "getState": control.get_state, "reset": control.reset, "getClock": control.get_clock,
    "setClock": control.set_clock, "listFaults": control.list_faults, "armFault": control.arm_fault,
    "clearFaults": control.clear_faults, "getConfig": control.get_config, "updateConfig": control.update_config,
    "listTenants": tenants.list_tenants, "createTenant": tenants.create_tenant, "getTenant": tenants.get_tenant,
    "deleteTenant": tenants.delete_tenant, "topUp": tenants.top_up, "getLedger": tenants.get_ledger,
    "listJobs": jobs.list_jobs, "listAssets": jobs.list_assets,
    "listRequests": requests.list_requests, "clearRequests": requests.clear_requests,
    "followEvents": requests.follow_events,
    **docs.HANDLERS, **dashboard.HANDLERS,
}
