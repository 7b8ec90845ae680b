"""Identifiers and seeds: unguessable-looking, yet reproducible under a fixed `--seed`.

Each value hashes (seed, counter); the counter lives in the store, so ids never repeat across restarts.
"""

from __future__ import annotations

import hashlib
import uuid

from mockserver.engine.store import Store

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
HEX = "0123456789abcdef"


class IdFactory:
    def __init__(self, store: Store, seed: int) -> None:
        self._store = store
        self.seed = seed

    def _digest(self, purpose: str) -> bytes:
        counter = self._store.next_counter("ids")
        return hashlib.blake2b(f"{self.seed}:{counter}:{purpose}".encode(), digest_size=32).digest()

    def token(self, length: int, alphabet: str = BASE62, purpose: str = "") -> str:
        number = int.from_bytes(self._digest(purpose), "big")
        chars = []
        for _ in range(length):
            number, index = divmod(number, len(alphabet))
            chars.append(alphabet[index])
        return "".join(chars)

    def uuid(self) -> str:
        return str(uuid.UUID(bytes=self._digest("uuid")[:16], version=4))

    def integer(self, bits: int = 63) -> int:
        return int.from_bytes(self._digest("int"), "big") >> (256 - bits)

    def sequence(self, name: str, start: int) -> int:
        """The next number of a named sequence: start, start + 1, ... (e.g. numeric model ids)."""
        return start + self._store.next_counter(f"seq:{name}") - 1
