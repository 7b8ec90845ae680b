"""The contract suite: judges any server of an API by talking HTTP to its base URL, never by importing it.

Layers: `schema` (schemathesis over every operation of the spec), `responses` (a tour of the documented
answers; every response any layer receives is validated strictly with openapi-core) and `stateful`
(a Hypothesis state machine checked against reference models of the wallet and the models' lifecycle).
"""
