"""Identifiers and seeds: unguessable-looking, yet reproducible under a fixed `--seed`.

Each value hashes (seed, counter). Counters are reserved from the store in blocks, so ids never repeat
across restarts while most draws touch no storage.
"""

from __future__ import annotations

import hashlib

from mockserver.engine.store import Store

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BLOCK = 1024


class IdFactory:
    def __init__(self, store: Store, seed: int) -> None:
        self._store = store
        self.seed = seed
        self._next = self._end = 0  # the reserved block of counters: [next, end)
        store.on_forget(self._drop_block)  # a block reserved in a rolled-back transaction was never reserved

    def _drop_block(self) -> None:
        self._next = self._end = 0

    def _digest(self, purpose: str) -> bytes:
        if self._next >= self._end:
            self._end = self._store.next_counter("ids", BLOCK)
            self._next = self._end - BLOCK
        counter, self._next = self._next, self._next + 1
        return hashlib.blake2b(f"{self.seed}:{counter}:{purpose}".encode(), digest_size=32).digest()

    def token(self, length: int, alphabet: str = BASE62, purpose: str = "") -> str:
        return _encode(self._digest(purpose), length, alphabet)

    def uuid(self) -> str:
        """A UUID in the version 4 layout (e.g. a prompt id or an API key)."""
        digits = self.token(32, "0123456789abcdef", purpose="uuid")
        variant = "89ab"[int(digits[16], 16) % 4]
        return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:32]}"

    def token_and_seed(self, length: int) -> tuple[str, int]:
        """A base62 token and an independent 31-bit seed, from one draw."""
        digest = self._digest("token+seed")
        return _encode(digest[:24], length, BASE62), int.from_bytes(digest[24:], "big") >> 33

    def sequence(self, name: str, start: int) -> int:
        """The next number of a named sequence: start, start + 1, ... (e.g. numeric model ids)."""
        return start + self._store.next_counter(f"seq:{name}") - 1


def _encode(digest: bytes, length: int, alphabet: str) -> str:
    """One character per digest byte (the slight modulo bias does not matter for ids)."""
    if length > len(digest):
        raise ValueError(f"at most {len(digest)} characters from one digest")
    size = len(alphabet)
    return "".join(alphabet[byte % size] for byte in digest[:length])
