"""AliveAI users: an email and password that log in for a JWT, an API key (a UUID), a public user id.

Access tokens are HS256 JWTs signed with a secret kept in the database (so they survive a restart) and
expire TOKEN_LIFETIME seconds after login on the engine's clock (so a virtual clock can expire them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from mockserver.engine import Engine
from mockserver.engine.ledger import to_amount
from mockserver.engine.tenants import DuplicateLogin, Tenant

API = "aliveai"
TOKEN_SCHEME, KEY_SCHEME = "SecurityScheme", "ApiKeyScheme"  # the spec's names
TOKEN_LIFETIME = 24 * 3600  # documented in specs/aliveai.yaml (POST /members/login)
_SECRET_SETTING = "aliveai:jwt-secret"


def create_user(engine: Engine, name: str, keys: list[str], balance: float, login: dict[str, str]) -> Tenant:
    """A user with its login (email and password, made up when not given), its API keys (a UUID made when none
    is given) and its opening credits. DuplicateLogin when another user has the email."""
    user_id = engine.ids.token(5)
    email = (login.get("email") or f"{user_id.lower()}@users.genmock.dev").lower()
    if engine.store.tenant_with_attribute(API, "account.email", email) is not None:
        raise DuplicateLogin(email)
    account = {"userId": user_id, "email": email, "password": login.get("password") or engine.ids.token(16)}
    return engine.tenants.create(API, name, keys or [engine.ids.uuid()], balance=to_amount(balance),
                                 attributes={"account": account})


def account(tenant: Tenant) -> dict[str, Any]:
    return dict(tenant.attributes.get("account", {}))


def log_in(engine: Engine, email: str, password: str) -> str | None:
    """An access token for the user with this email and password, or None."""
    row = engine.store.tenant_with_attribute(API, "account.email", email.strip().lower())
    login = row["attributes"]["account"] if row else None
    if login is None or not hmac.compare_digest(login["password"].encode(), password.encode()):
        return None
    now = int(engine.clock.now())
    claims = {"sub": login["userId"], "tid": row["id"], "upn": login["email"], "iat": now,  # type: ignore[index]
              "exp": now + TOKEN_LIFETIME}
    return _sign(engine, claims)


def authenticate(engine: Engine, secret: str, scheme: str | None = None) -> Tenant | None:
    """The user a credential names: an access token (`Bearer`, three dot-separated parts) or an API key (`Key`);
    `scheme` None (a websocket's `token`): either."""
    if secret.count(".") != 2:
        return engine.tenants.authenticate(API, secret) if scheme in (None, KEY_SCHEME) else None
    if scheme not in (None, TOKEN_SCHEME):
        return None
    claims = _verify(engine, secret)
    if claims is None or not isinstance(claims.get("exp"), int) or claims["exp"] <= engine.clock.now():
        return None
    tenant = engine.tenants.get(API, str(claims.get("tid")))
    return tenant if tenant is not None and account(tenant).get("userId") == claims.get("sub") else None


def _secret(engine: Engine) -> bytes:
    secret = engine.store.get_setting(_SECRET_SETTING)
    if secret is None:
        secret = secrets.token_hex(32)
        engine.store.set_setting(_SECRET_SETTING, secret)
    return bytes.fromhex(secret)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(engine: Engine, claims: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(_secret(engine), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def _verify(engine: Engine, token: str) -> dict[str, Any] | None:
    head, body, signature = token.split(".")
    expected = hmac.new(_secret(engine), f"{head}.{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(signature), expected):
            return None
        claims = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None
