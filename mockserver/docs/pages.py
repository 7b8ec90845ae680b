"""The HTML pages of the site, filled into the templates beside this module."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from string import Template
from typing import Any

from mockserver.docs.markdown import to_html
from mockserver.docs.provenance import WORDS, operation_counts


@dataclass(frozen=True)
class Entry:
    """One page of the site: its file, its label in the navigation, and the document it is made from."""

    file: str
    label: str
    api: str  # the API's name ("admin" for the admin API)
    spec: str  # the file name of the document, e.g. "lovlychat.yaml"
    document: dict[str, Any]  # the (unannotated) document
    websockets: bool = False  # the page of the API's AsyncAPI document, not of its OpenAPI one


@cache
def template(name: str) -> Template:
    return Template((resources.files("mockserver.docs") / "templates" / name).read_text(encoding="utf-8"))


def nav(entries: list[Entry], current: str) -> str:
    links = [f'<a class="home" href="index.html"{_current("index.html", current)}>genmock reference</a>']
    links += [f'<a href="{escape(entry.file)}"{_current(entry.file, current)}>{escape(entry.label)}</a>'
              for entry in entries]
    return f'<nav class="gm-nav">{"".join(links)}</nav>'


def embedded_json(value: Any) -> str:
    """JSON to put inside a <script> element: no `<`, `>` or `&` can end it or open a comment there."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def reference_page(entry: Entry, entries: list[Entry], spec: dict[str, Any], base_url: str | None) -> str:
    """A Swagger UI page of one (annotated) OpenAPI document; "try it" only where a mock serves it."""
    if base_url:
        try_it = (f"“Try it out” sends requests to this mock, <code>{escape(base_url)}</code>: authorize with "
                  "the demo key that <code>genmock serve</code> printed (the admin API takes the admin token).")
    else:
        try_it = ("“Try it out” is off in this offline copy: open <code>/__genmock/docs</code> on an origin of "
                  "<code>genmock serve</code> to send requests to the mock.")
    return template("reference.html").substitute(
        title=escape(entry.label), nav=nav(entries, entry.file), try_it=try_it, spec=embedded_json(spec),
        submit_methods=json.dumps(["get", "put", "post", "delete", "options", "head", "patch", "trace"]
                                  if base_url else []))


def plain_page(title: str, entries: list[Entry], current: str, body: str, head: str = "") -> str:
    return template("page.html").substitute(title=escape(title), nav=nav(entries, current), body=body, head=head)


def index_body(entries: list[Entry], base_url: str | None) -> str:
    apis = [entry for entry in entries if entry.api != "admin" and not entry.websockets]
    where = (f"Served by the mock at <code>{escape(base_url)}</code>: its pages are this origin's API, the admin "
             "API and, where the API has them, its websocket channels." if base_url else
             "Written by <code>genmock docs</code>; it works offline, from the files alone.")
    parts = ["<h1>genmock reference</h1>",
             "<p>Made from the OpenAPI and AsyncAPI documents that genmock ships (the package "
             f"<code>genmock_specs</code>), which the mock server and the contract suite also work from. {where}</p>",
             '<section id="pages"><h2>Pages</h2><ul class="pages">',
             *(f"<li>{_page_line(entry)}</li>" for entry in entries), "</ul></section>",
             _provenance(apis)]
    parts.append('<p class="source">Rendered with Swagger UI (Apache License 2.0, '
                 '<a href="swagger-ui-LICENSE.txt">license</a>), from the package swagger-ui-py.</p>')
    return "\n".join(parts)


def _page_line(entry: Entry) -> str:
    link = f'<a href="{escape(entry.file)}">{escape(entry.label)}</a>'
    if entry.websockets:
        return f"{link}: the websocket channels (<code>{escape(entry.spec)}</code>)"
    info = entry.document.get("info", {})
    count = sum(operation_counts(entry.document).values())
    return (f"{link}: {escape(info.get('title', ''))} {escape(str(info.get('version', '')))} "
            f"(<code>{escape(entry.spec)}</code>, {count} operation{'' if count == 1 else 's'})")


def _provenance(apis: list[Entry]) -> str:
    rows = []
    for entry in apis:
        counts = operation_counts(entry.document)
        cells = "".join(f'<td class="count" data-provenance="{word}">{counts[word]}</td>' for word in WORDS)
        rows.append(f'<tr data-api="{escape(entry.api)}"><td><a href="{escape(entry.file)}">{escape(entry.label)}'
                    f'</a></td><td class="count" data-provenance="total">{sum(counts.values())}</td>{cells}</tr>')
    notes = "".join(f"<h3>{escape(entry.label)}</h3>{to_html(_paragraph(entry.document))}" for entry in apis
                    if _paragraph(entry.document))
    heads = "".join(f'<th class="word-{word}">{word}</th>' for word in WORDS)
    return f"""<section id="provenance"><h2>Provenance</h2>
<p>The specs describe real APIs from what is publicly known of them, and fill the gaps with decisions of their
own. Every operation, and each parameter, body, response, schema and field that needs it, carries
<code>x-provenance</code>, shown on the pages as a marker in front of its description (and of each operation's
summary), followed by its <code>x-provenance-note</code> where it has one:</p>
<dl>
<dt class="word-documented"><strong>[documented]</strong></dt><dd>named in the API's published documentation;
constraints the documentation does not state are listed in the note.</dd>
<dt class="word-observed"><strong>[observed]</strong></dt><dd>not documented, but seen in the behaviour of public
client code or in published examples.</dd>
<dt class="word-inferred"><strong>[inferred]</strong></dt><dd>not in the public record: decided by genmock the way
a well-run API of this kind would behave, with the reason in the note where a choice needed one.</dd>
</dl>
<p>The genmock admin API is genmock's own, so it carries no such marks.</p>
<table id="provenance-counts"><thead><tr><th>API</th><th>Operations</th>{heads}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
{notes}
</section>"""


def _paragraph(document: dict[str, Any]) -> str:
    """The "Provenance" paragraph of a spec's description, or ""."""
    for paragraph in document.get("info", {}).get("description", "").split("\n\n"):
        if paragraph.lstrip().startswith(("**Provenance", "Provenance")):
            return paragraph.strip()
    return ""


def _current(file: str, current: str) -> str:
    return ' aria-current="page"' if file == current else ""
