"""/__genmock/docs on each origin: the reference of the origin's API and of the admin API, with "try it"
requests going to the origin itself."""

from __future__ import annotations

from functools import lru_cache

from starlette.responses import Response

from mockserver.docs.site import Api, build_site, entries, index_page, media_type
from mockserver.routing import Call


async def docs_index(call: Call) -> Response:
    """The index, at a path without the trailing slash: a <base> makes its relative links point into docs/."""
    return Response(_bare_index(_api(call), call.base_url), media_type=media_type("index.html"))


async def docs_file(call: Call) -> Response:
    name = call.path["file"]
    content = served_site(_api(call), call.base_url).get(name)
    if content is None:
        from mockserver.admin import problem  # the admin module imports this one

        return problem(404, "Not Found", f"the reference has no file {name!r}; start at /__genmock/docs")
    return Response(content, media_type=media_type(name))


# Specs do not change at run time: each origin's site is built once (for its one base URL: its public URL, else
# the address it listens on).
@lru_cache(maxsize=16)
def served_site(api: Api, base_url: str) -> dict[str, bytes]:
    """The files of the reference an origin serves: its API, the admin API, its websockets if it has them."""
    return build_site([api], base_url)


@lru_cache(maxsize=16)
def _bare_index(api: Api, base_url: str) -> bytes:
    return index_page(entries([api]), base_url, head='<base href="docs/">').encode()


def _api(call: Call) -> Api:
    dialect = call.context.dialect
    return Api(dialect.name, dialect.title, dialect.spec)
