"""Reference models: what a correct server's state must be after a sequence of requests. Pure, no I/O."""
