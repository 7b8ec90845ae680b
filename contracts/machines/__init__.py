"""The stateful layer: one Hypothesis state machine per API, checked against `contracts.models`."""
