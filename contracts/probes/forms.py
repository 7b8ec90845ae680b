"""Near-miss forms of another tenant's ids: in a path (letter case, whitespace, percent-encoding, a trailing or
double slash, dot segments, a query naming the owner) and as a field's value. Each form either names the same
thing (a percent-encoded character, a dot segment a server resolves) or almost names it; either way it must not
reach a thing that is not the sender's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

PARAMETER = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Form:
    """One near-miss request path."""

    what: str
    target: str  # the path as sent, byte for byte (no client may normalise it)
    same_route: bool  # still a path of the operation's template (its answer is validated against the spec)
    params: dict[str, str] = field(default_factory=dict)  # query parameters


def parameters(template: str) -> list[str]:
    return PARAMETER.findall(template)


def fill(template: str, values: dict[str, str]) -> str:
    """The template with each parameter's value percent-encoded."""
    return PARAMETER.sub(lambda found: quote(values[found[1]], safe=""), template)


def path_forms(template: str, values: dict[str, str], owner: dict[str, str]) -> list[Form]:
    """The exact path, each parameter's value in every near-miss form (the others exact), a trailing slash, and
    (when `owner` names the owner: query parameter -> value) the exact path with a query naming them."""
    exact = fill(template, values)
    forms = [Form("the exact path", exact, True), Form("a trailing slash", exact + "/", False)]
    if owner:
        forms.append(Form(f"a query naming the owner ({', '.join(owner)})", exact, True, dict(owner)))
    for name in parameters(template):
        before, _, after = template.partition("{" + name + "}")
        head, tail = fill(before, values), fill(after, values)
        value = values[name]
        encoded = quote(value, safe="")
        variants = [
            ("in the other letter case", quote(value.swapcase(), safe=""), True),
            ("after a space", "%20" + encoded, True),
            ("before a space", encoded + "%20", True),
            ("with its first character percent-encoded", _percent(value[:1]) + quote(value[1:], safe=""), True),
            ("percent-encoded whole", _percent(value), True),
            ("after a double slash", "/" + encoded, False),
            ("after a `./` segment", "./" + encoded, False),
            ("after a `x/../` segment", "x/../" + encoded, False),
            ("after a percent-encoded `x/%2e%2e/` segment", "x/%2e%2e/" + encoded, False),
        ]
        for what, text, same in variants:
            if what == "in the other letter case" and value.swapcase() == value:
                continue
            forms.append(Form(f"{{{name}}} {what}", head + text + tail, same))
    return forms


def value_forms(value: str) -> list[tuple[str, str]]:
    """An id as a field's value: exact, in the other letter case, padded with whitespace, with a leading zero
    (a number)."""
    forms = [("the exact id", value)]
    if value.swapcase() != value:
        forms.append(("the id in the other letter case", value.swapcase()))
    forms += [("the id after a space", " " + value), ("the id before a space", value + " ")]
    if value.isdigit():
        forms.append(("the id with a leading zero", "0" + value))
    return forms


def _percent(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())
