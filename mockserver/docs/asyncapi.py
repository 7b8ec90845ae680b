"""The body of the websocket page: an AsyncAPI 3 document's servers, channels (address, parameters, query),
messages (payload schemas, examples), operations and security schemes, with their provenance.

No maintained AsyncAPI renderer is packaged for Python, so this is plain generated HTML; every text from the
document is escaped (descriptions go through CommonMark with raw HTML off).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from mockserver.docs.markdown import to_html
from mockserver.docs.schemas import Loader, SchemaRenderer, provenance_html
from mockserver.spec import resolve


def channels_html(name: str, load: Loader) -> str:
    """The HTML body of the page of the AsyncAPI document `name` (refs resolved with `load`)."""
    document = load(name)
    schemas = SchemaRenderer(load)
    info = document.get("info", {})
    parts = [f'<h1>{escape(info.get("title", name))} <span class="version">{escape(str(info.get("version", "")))}'
             f'</span></h1><p class="source">From <code>{escape(name)}</code> (AsyncAPI '
             f'{escape(str(document.get("asyncapi", "")))})</p>',
             provenance_html(info), to_html(info.get("description")),
             _servers(document.get("servers", {})), _contents(document.get("channels", {}))]
    for channel_id, channel in document.get("channels", {}).items():
        parts.append(_channel(document, name, channel_id, channel, schemas))
    parts.append(_operations(document))
    parts.append(_security(document.get("components", {}).get("securitySchemes", {})))
    linked = schemas.remaining()
    if linked:
        parts.append(f'<section id="schemas"><h2>Schemas</h2>{linked}</section>')
    return "\n".join(part for part in parts if part)


def _contents(channels: dict[str, Any]) -> str:
    links = "".join(f'<li><a href="#channel-{escape(key)}"><code>{escape(channel.get("address", ""))}</code></a> '
                    f'{escape(channel.get("title", key))}</li>' for key, channel in channels.items())
    return f'<nav class="contents"><h2>Channels</h2><ul>{links}</ul></nav>'


def _servers(servers: dict[str, Any]) -> str:
    if not servers:
        return ""
    rows = "".join(
        f'<tr><td>{escape(key)}</td><td><code>{escape(server.get("protocol", ""))}://'
        f'{escape(server.get("host", ""))}{escape(server.get("pathname", ""))}</code></td>'
        f'<td>{provenance_html(server)}{to_html(server.get("description"))}</td></tr>'
        for key, server in servers.items())
    return ('<section id="servers"><h2>Servers</h2><table><thead><tr><th>Server</th><th>URL</th>'
            f"<th>Description</th></tr></thead><tbody>{rows}</tbody></table></section>")


def _channel(document: dict[str, Any], name: str, channel_id: str, channel: dict[str, Any],
             schemas: SchemaRenderer) -> str:
    parts = [f'<section class="channel" id="channel-{escape(channel_id)}">'
             f'<h2>{escape(channel.get("title", channel_id))}</h2>'
             f'<p class="address">Address: <code>{escape(channel.get("address", ""))}</code> '
             f'<span class="channel-id">(channel <code>{escape(channel_id)}</code>)</span></p>',
             provenance_html(channel), to_html(channel.get("description"))]
    parameters = {key: resolve(document, value) for key, value in channel.get("parameters", {}).items()}
    if parameters:
        parts.append('<h3>Parameters</h3><table><thead><tr><th>Parameter</th><th>Description</th>'
                     f'<th>Examples</th></tr></thead><tbody>{"".join(map(_parameter_row, parameters.items()))}'
                     "</tbody></table>")
    ws = channel.get("bindings", {}).get("ws", {})
    if ws:
        method = f'<p>Connect with an HTTP <code>{escape(ws.get("method", "GET"))}</code> upgrade.</p>'
        query = ws.get("query")
        parts.append(f"<h3>WebSocket binding</h3>{method}"
                     + (f"<h4>Query</h4>{schemas.body(query, name)}" if query else ""))
    parts.append("<h3>Messages</h3>")
    for key, message in channel.get("messages", {}).items():
        parts.append(_message(key, message, document, name, schemas))
    parts.append("</section>")
    return "".join(part for part in parts if part)


def _parameter_row(item: tuple[str, dict[str, Any]]) -> str:
    key, parameter = item
    examples = ", ".join(f"<code>{escape(str(example))}</code>" for example in parameter.get("examples", ()))
    return (f'<tr><td><code>{escape(key)}</code></td><td>{provenance_html(parameter)}'
            f'{to_html(parameter.get("description"))}</td><td>{examples}</td></tr>')


def _message(key: str, reference: dict[str, Any], document: dict[str, Any], name: str,
             schemas: SchemaRenderer) -> str:
    message = resolve(document, reference)
    title = message.get("name", key)
    parts = [f'<article class="message" id="message-{escape(title)}"><h4 class="message-name">{escape(title)}</h4>'
             f'<p class="message-id">Message <code>{escape(key)}</code>'
             + (f" — {escape(message['title'])}" if message.get("title") else "")
             + (f' · <code>{escape(message["contentType"])}</code>' if message.get("contentType") else "") + "</p>",
             provenance_html(message), to_html(message.get("summary")), to_html(message.get("description"))]
    payload = message.get("payload")
    if isinstance(payload, dict):
        schema = payload.get("schema", payload) if "schemaFormat" in payload else payload
        parts.append(f'<div class="payload"><h5>Payload</h5>{_schema(schema, name, schemas)}</div>')
    examples = message.get("examples", ())
    if examples:
        parts.append("<h5>Examples</h5>")
        for example in examples:
            label = escape(example.get("name", "")) + (f" — {escape(example['summary'])}" if example.get("summary")
                                                      else "")
            body = json.dumps(example.get("payload"), indent=2, ensure_ascii=False, default=str)
            parts.append(f'<figure class="example"><figcaption>{label}</figcaption><pre><code>{escape(body)}'
                         "</code></pre></figure>")
    parts.append("</article>")
    return "".join(part for part in parts if part)


def _schema(schema: dict[str, Any], base: str, schemas: SchemaRenderer) -> str:
    """A payload: a named schema in full here (or a link, if it was rendered already), else inline."""
    if "$ref" in schema:
        return schemas.named(schema["$ref"], base) or f"<p>{schemas.type_label(schema, base)}</p>"
    return schemas.body(schema, base)


def _operations(document: dict[str, Any]) -> str:
    operations = document.get("operations", {})
    if not operations:
        return ""
    rows = []
    for key, operation in operations.items():
        channel_ref = operation.get("channel", {}).get("$ref", "")
        channel_id = channel_ref.rsplit("/", 1)[-1]
        security = ", ".join(escape(item.get("$ref", "").rsplit("/", 1)[-1]) for item in operation.get("security", ()))
        rows.append(f'<tr><td><code>{escape(key)}</code></td><td>{escape(operation.get("action", ""))}</td>'
                    f'<td><a href="#channel-{escape(channel_id)}">{escape(channel_id)}</a></td>'
                    f'<td>{provenance_html(operation)}{to_html(operation.get("summary"))}</td>'
                    f"<td>{security or 'none'}</td></tr>")
    return ('<section id="operations"><h2>Operations</h2><table><thead><tr><th>Operation</th><th>Action</th>'
            "<th>Channel</th><th>Summary</th><th>Security</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def _security(schemes: dict[str, Any]) -> str:
    if not schemes:
        return ""
    rows = "".join(
        f'<tr><td><code>{escape(key)}</code></td><td>{escape(scheme.get("type", ""))}'
        + (f' in {escape(scheme["in"])}' if scheme.get("in") else "")
        + (f' <code>{escape(scheme["name"])}</code>' if scheme.get("name") else "")
        + f'</td><td>{provenance_html(scheme)}{to_html(scheme.get("description"))}</td></tr>'
        for key, scheme in schemes.items())
    return ('<section id="security"><h2>Security schemes</h2><table><thead><tr><th>Scheme</th><th>Kind</th>'
            f"<th>Description</th></tr></thead><tbody>{rows}</tbody></table></section>")

