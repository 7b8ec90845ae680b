"""`--seed` reaches the state machines: the same seed draws the same sequences, another seed others."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import strategies
from hypothesis.stateful import RuleBasedStateMachine, rule

from contracts.machines.common import Tally, explore
from contracts.progress import Progress
from contracts.report import Report


def drawn(seed: int) -> list[int]:
    """What a machine's rules drew in a run of explore() with this seed."""
    draws: list[int] = []

    class Drawing(RuleBasedStateMachine):
        @rule(value=strategies.integers(0, 10**9))
        def draw(self, value: int) -> None:
            draws.append(value)

    session = SimpleNamespace(report=Report("lovlychat", "http://127.0.0.1:9"), progress=Progress(), seed=seed,
                              reproduce=None)
    explore(session, Drawing, Tally(), "GET /v1/pricing", max_examples=5, steps=5, shrink=False)  # type: ignore[arg-type]
    assert session.report.ok, session.report.render()
    return draws


def test_the_same_seed_draws_the_same_sequences_and_another_seed_others() -> None:
    first = drawn(1)
    assert len(first) >= 5
    assert drawn(1) == first
    assert drawn(2) != first
