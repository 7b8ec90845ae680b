"""The docs site as files by name, built from the specs: written to a folder by `genmock docs`, served under
/__genmock/docs by `genmock serve`. The folder is flat, so a file is one path segment where it is served.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from mockserver.docs.asyncapi import channels_html
from mockserver.docs.pages import Entry, index_body, plain_page, reference_page
from mockserver.docs.provenance import annotate
from mockserver.spec import load_document

INDEX = "index.html"
CSS = "genmock-docs.css"
# the files of Swagger UI the pages use (by their name in the site: their name in swagger-ui-py's static/)
SWAGGER_FILES = {"swagger-ui-bundle.js": "swagger-ui-bundle.js", "swagger-ui.css": "swagger-ui.css",
                 "swagger-ui-LICENSE.txt": "LICENSE"}
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "application/javascript", ".css": "text/css",
               ".txt": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class Api:
    name: str  # e.g. "lovlychat"
    title: str  # e.g. "LovlyChat"
    spec: str  # its OpenAPI document in genmock_specs, e.g. "lovlychat.yaml"


ADMIN = Api("admin", "genmock admin API", "admin.yaml")


def api(name: str) -> Api:
    """The API of a dialect (see `mockserver.dialects.NAMES`)."""
    from mockserver import dialects

    dialect = dialects.load(name)
    return Api(dialect.name, dialect.title, dialect.spec)


def media_type(file: str) -> str:
    return MEDIA_TYPES.get(os.path.splitext(file)[1], "application/octet-stream")


def entries(apis: Sequence[Api]) -> list[Entry]:
    """The pages of the reference of these APIs and of the admin API, in navigation order."""
    found = []
    for each in (*apis, ADMIN):
        document = load_document(each.spec)
        found.append(Entry(f"{each.name}.html", each.title, each.name, each.spec, document))
        asyncapi = document.get("x-asyncapi")  # the API's websockets, described beside it
        if asyncapi:
            found.append(Entry(f"{each.name}-websockets.html", f"{each.title} websockets", each.name, asyncapi,
                               load_document(asyncapi), websockets=True))
    return found


def build_site(apis: Sequence[Api], base_url: str | None = None) -> dict[str, bytes]:
    """Every file of the site, by name. With `base_url` (where a mock serves it) each spec's servers are that
    origin, so that "try it" requests go to the mock; without, the specs' own servers stay and "try it" is off."""
    pages = entries(apis)
    files: dict[str, bytes] = {}
    for entry in pages:
        if entry.websockets:
            html = plain_page(entry.label, pages, entry.file, channels_html(entry.spec, load_document))
        else:
            spec = annotate(entry.document)
            if base_url:
                spec["servers"] = [{"url": base_url, "description": "this genmock mock"}]
            html = reference_page(entry, pages, spec, base_url)
        files[entry.file] = html.encode()
    files[INDEX] = index_page(pages, base_url).encode()
    files[CSS] = (resources.files("mockserver.docs") / "templates" / CSS).read_bytes()
    files.update(swagger_files())
    return files


def index_page(pages: list[Entry], base_url: str | None, head: str = "") -> str:
    """The index; `head` goes first in its <head> (e.g. a <base> where it is served at another path)."""
    return plain_page("Index", pages, INDEX, index_body(pages, base_url), head)


@cache
def swagger_files() -> dict[str, bytes]:
    # found, not imported: importing swagger_ui would import its framework handlers and jinja2
    package = importlib.util.find_spec("swagger_ui")
    if package is None or not package.submodule_search_locations:
        raise LookupError("the package swagger-ui-py is not installed")
    static = Path(package.submodule_search_locations[0]) / "static"
    return {name: (static / source).read_bytes() for name, source in SWAGGER_FILES.items()}


def write_site(out: Path, apis: Sequence[Api]) -> Path:
    """Write the site into the folder `out` (created if need be); the path of its index."""
    out.mkdir(parents=True, exist_ok=True)
    for name, content in build_site(apis).items():
        (out / name).write_bytes(content)
    return out / INDEX
