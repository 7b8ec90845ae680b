"""The reference prompts and queue of an AliveAI user.

A prompt is active from its acceptance until it is seen finished (`medias` non-empty), failed or removed (both
404, both refunded), or deleted (404, after a 204). The user's queue is its active prompts in the order they
were accepted: `GET /prompts/pending` lists them so, the running ones first at `queuePosition` 0, then the
waiting ones at 1, 2, ... The server may have finished a prompt the model has not seen finish yet, so the list
may leave out an active prompt (the machine then polls it to learn why), never show another one or change the
order. A create is refused 429 exactly when the queue holds `maxPending` prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACTIVE, FINISHED, FAILED, REMOVED, DELETED = "active", "finished", "failed", "removed", "deleted"


@dataclass
class Prompt:
    id: str
    owner: str  # the label of the account that paid for it
    prompt_type: str
    cost: int  # what it was charged when accepted
    fails: bool = False  # bound to fail: accepted while a fault was armed for its user
    open_fate: bool = False  # a real server may fail it for reasons of its own (no admin token)
    state: str = ACTIVE
    medias: list[dict[str, Any]] = field(default_factory=list)  # once finished
    position: int | None = None  # its queuePosition in the last pending list that showed it

    @property
    def active(self) -> bool:
        return self.state == ACTIVE

    @property
    def refund_pending(self) -> int:
        """What may come back for it without the model knowing yet (it may fail unseen)."""
        return self.cost if self.active and (self.fails or self.open_fate) else 0


def queue_problem(listed: list[dict[str, Any]], active: list[str], slots: int | None = None) -> str | None:
    """What is wrong with a pending list, given the model's active prompts (in acceptance order): a stranger, a
    prompt out of order, positions other than 0... then 1, 2, ...; more running than the server has `slots`."""
    ids = [item.get("promptId") for item in listed]
    strangers = [str(prompt_id) for prompt_id in ids if prompt_id not in active]
    if strangers:
        return f"it lists {', '.join(strangers)}, which are no active prompts of this user"
    if len(set(ids)) != len(ids) or [prompt_id for prompt_id in active if prompt_id in ids] != ids:
        return f"it lists {ids}; the prompts were accepted in the order {active}"
    positions = [item.get("queuePosition") for item in listed]
    running = next((index for index, position in enumerate(positions) if position != 0), len(positions))
    expected = [0] * running + list(range(1, len(positions) - running + 1))
    if positions != expected:
        return f"queue positions {positions}; the running prompts are at 0, then the waiting ones at 1, 2, ..."
    if slots is not None and running > slots:
        return f"{running} prompts are running at once, but the server has {slots} slots"
    return None
