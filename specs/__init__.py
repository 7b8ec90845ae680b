"""The OpenAPI documents of genmock, importable as `genmock_specs` (this folder is mapped to that name).

The YAML files beside this module are the source of truth. The mock server and the contract suite locate
them through `path(name)`, which works alike in a checkout, an editable install and an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

# A real file-system path, not a Traversable: schemathesis and openapi-core load a spec from a path, and
# setuptools always installs this package as plain files.
DIR = Path(__file__).resolve().parent
SUFFIXES = (".yaml", ".yml", ".json")


def path(name: str) -> Path:
    """The file of the spec `name`, e.g. "lucydream.yaml" (whether it exists or not)."""
    return DIR / name


def names() -> list[str]:
    """The file names of every spec shipped, sorted."""
    return sorted(entry.name for entry in DIR.iterdir() if entry.suffix in SUFFIXES)
