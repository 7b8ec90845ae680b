"""Near-miss probes of the stateful layer, read from the spec: the other tenant's ids in forms that are almost
theirs (letter case, whitespace, percent-encoding, extra slashes, dot segments, a query naming the owner, an id
field of another request) must never reach the owner's things (`isolation`), and credentials that are almost
valid (a character changed, the wrong header, scheme word or place) must be refused (`authentication`)."""
