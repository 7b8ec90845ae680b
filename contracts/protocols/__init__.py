"""Contracts beyond request and response: AliveAI's websocket channels (and, next, its NDJSON chat streams),
judged over the wire with aiohttp against any server."""
