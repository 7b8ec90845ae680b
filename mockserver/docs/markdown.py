"""The specs' descriptions (CommonMark) as HTML for the pages genmock renders itself (index, websockets)."""

from __future__ import annotations

from markdown_it import MarkdownIt

# html off: any tag in a description is shown as text, never inserted
_RENDERER = MarkdownIt("commonmark", {"html": False})


def to_html(text: str | None) -> str:
    """Escaped HTML of a CommonMark text ("" for none)."""
    return _RENDERER.render(text) if text else ""
