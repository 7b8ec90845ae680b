"""The contract suite: judges any server of an API by talking HTTP to its base URL, never by importing it.

Layers: `schema` (schemathesis over every operation of the spec), `responses` (a tour of the documented
answers; every response any layer receives is validated strictly with openapi-core) and `stateful`
(a Hypothesis state machine checked against pure reference models: wallets, trained models, jobs, galleries;
plus concurrency properties such as parallel debits of one wallet).
"""
