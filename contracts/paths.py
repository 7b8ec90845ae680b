"""The spec's path templates as patterns: which template a request's path is an instance of."""

from __future__ import annotations

import re


def template_pattern(template: str) -> re.Pattern[str]:
    """What matches the paths of `template` (e.g. /chats/{chatId}): each `{parameter}` one path segment."""
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
