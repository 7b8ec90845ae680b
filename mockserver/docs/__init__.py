"""The reference site made from the specs: `genmock docs --out DIR` writes it, `genmock serve` serves it under
/__genmock/docs on each origin."""

from mockserver.docs.provenance import annotate, operation_counts
from mockserver.docs.served import docs_file, docs_index
from mockserver.docs.site import ADMIN, Api, api, build_site, write_site
from mockserver.routing import Handler

HANDLERS: dict[str, Handler] = {"getDocsIndex": docs_index, "getDocsFile": docs_file}

__all__ = ["ADMIN", "HANDLERS", "Api", "annotate", "api", "build_site", "docs_file", "docs_index",
           "operation_counts", "write_site"]
