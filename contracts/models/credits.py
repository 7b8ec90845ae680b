"""AliveAI's credits: what a create is charged, and the words a wrong balance is reported in.

The balance itself is `contracts.models.prepaid.PrepaidWallet` (the start, minus the price of every accepted
prompt, plus the refund of every prompt that failed or was removed from the queue); AliveAI shows it publicly
(`GET /members/me`), so the machine reads it after every step and the model is exact even without an admin
token.

The price of a create is its prompt type's, twice that for a MEDIUM `videoLength` video. With an admin token the
table is the server's config (`fixed`); without one each price is learnt from the first debit seen for it (the
balance right before and right after the create, with no refund pending) and then held fixed: a later create of
that kind charged otherwise is a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.models.prepaid import Discrepancy, PrepaidWallet, Vocabulary

FAILED, REMOVED = "failed", "removed"  # what refunds a prompt
WORDS = Vocabulary(item="prompt", charge="charge_per_prompt",
                   refunds=((FAILED, "refund_on_failure"), (REMOVED, "refund_on_removal")),
                   refund_once="refund_once", refused="payment_required", other="credits_balance")


def wallet() -> PrepaidWallet:
    """A user's credits, in AliveAI's words."""
    return PrepaidWallet(words=WORDS)


@dataclass
class PriceTable:
    base: dict[str, int] = field(default_factory=dict)  # per prompt type: the admin config's (fixed)
    learnt: dict[tuple[str, bool], int] = field(default_factory=dict)  # (prompt type, MEDIUM video): learnt

    @property
    def fixed(self) -> bool:
        return bool(self.base)

    def price(self, prompt_type: str, medium: bool = False) -> int | None:
        """What a create of this kind costs (None: not learnt yet)."""
        if self.fixed:
            return self.base[prompt_type] * (2 if medium else 1)
        return self.learnt.get((prompt_type, medium))

    def learn(self, prompt_type: str, medium: bool, debit: int) -> Discrepancy | None:
        """The first debit of a kind is its price (prices are not published, so a MEDIUM video's is learnt
        apart); a debit that cannot be a price is a discrepancy."""
        if debit <= 0:
            return Discrepancy(WORDS.charge, f"a {prompt_type}{' MEDIUM' if medium else ''} create moved the "
                                             f"credits by {-debit:+}: a create is charged a positive price")
        self.learnt[prompt_type, medium] = debit
        return None
