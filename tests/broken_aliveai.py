"""Deliberately broken AliveAI mocks (HTTP): each breaks one contract the suite must catch.

Registered in tests/broken.py (`python -m tests.broken <variant> serve ...`).
"""

from __future__ import annotations

from collections.abc import Callable

VARIANTS: dict[str, Callable[[], None]] = {}
