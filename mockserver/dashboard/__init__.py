"""The dashboard at /__genmock/ui: one self-contained page (inline CSS and vanilla JS) on the admin API.

The page itself needs no token (it asks for one and keeps it in the tab's sessionStorage); everything it shows
comes from the admin API it calls with that token, and from asset URLs (thumbnails). Its content security
policy admits only its own inline script and style (by hash) and requests to this origin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from starlette.responses import Response

from mockserver.routing import Call, Handler

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


@cache
def page() -> tuple[bytes, str]:
    """The page's bytes and its content security policy (read and hashed once)."""
    text = resources.files(__package__).joinpath("static/index.html").read_text(encoding="utf-8")
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for found in _INLINE.finditer(text):
        digest = base64.b64encode(hashlib.sha256(found[2].encode("utf-8")).digest()).decode()
        hashes[found[1]].append(f"'sha256-{digest}'")
    policy = "; ".join([
        "default-src 'self'",
        "script-src " + (" ".join(hashes["script"]) or "'none'"),
        "style-src " + (" ".join(hashes["style"]) or "'none'"),
        "connect-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])
    return text.encode("utf-8"), policy


async def dashboard_page(call: Call) -> Response:
    content, policy = page()
    return Response(content, media_type="text/html; charset=utf-8", headers={
        "cache-control": "no-store", "content-security-policy": policy, "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    })


HANDLERS: dict[str, Handler] = {"getDashboard": dashboard_page}
