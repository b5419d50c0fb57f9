"""The scenario catalogue (``scenarios.json``): named sequences of notifications per order kind."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Expectation", "Scenario", "Step", "catalogue", "default_scenario", "scenario"]

OrderKind = Literal["Deposit", "SelectAccount", "Withdraw", "AccountPayout", "Refund"]


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str = Field(pattern=r"^[a-z]+$")
    after: float = Field(default=0, ge=0)
    amount: Decimal = Decimal(1)  # a factor of the order's amount
    error: str | None = None  # payoutfailed's errorcode
    on_reply: dict[str, list[Step]] = Field(default_factory=dict)


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    duplicate: bool = False  # deliver every notification a second time after a valid reply
    drop_reply: list[str] = Field(default_factory=list)  # lose the first valid reply to these


class Expectation(BaseModel):
    """What a correct merchant does, for the acceptance runner. Amounts are factors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    balance: Decimal | None = None  # end user's balance change at the merchant
    suspense: Decimal | None = None
    account: bool | None = None  # the merchant stored the account as a payout destination
    replies: dict[str, list[str]] = Field(default_factory=dict)  # method -> acceptable statuses
    balance_by_reply: dict[str, dict[str, Decimal]] = Field(default_factory=dict)
    same_reply_on_duplicate: bool = False


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    applies_to: list[OrderKind]
    steps: list[Step]
    default: bool = False
    trustly_test_case: bool = False
    delivery: Delivery = Delivery()
    expect: Expectation = Expectation()

    def summary(self) -> str:
        return " → ".join(_describe(step) for step in self.steps)


def _describe(step: Step) -> str:
    text = step.event + (f" (+{step.after:g}s)" if step.after else "")
    if step.amount != 1:
        text += f" x{step.amount}"
    if step.on_reply:
        branches = "; ".join(
            f"{status}: {', '.join(_describe(s) for s in steps)}"
            for status, steps in step.on_reply.items()
        )
        text += f" [{branches}]"
    return text


@cache
def catalogue() -> tuple[Scenario, ...]:
    raw: dict[str, Any] = json.loads(
        (resources.files("trustly_emulator") / "scenarios.json").read_text(encoding="utf-8")
    )
    scenarios = tuple(Scenario.model_validate(entry) for entry in raw["scenarios"])
    ids = [s.id for s in scenarios]
    if len(ids) != len(set(ids)):
        raise ValueError("scenario ids in scenarios.json must be unique")
    return scenarios


def scenario(scenario_id: str) -> Scenario:
    for candidate in catalogue():
        if candidate.id == scenario_id:
            return candidate
    raise KeyError(f"no scenario {scenario_id!r}; see `fintrust emulator scenarios`")


def default_scenario(kind: str) -> Scenario:
    for candidate in catalogue():
        if candidate.default and kind in candidate.applies_to:
            return candidate
    raise KeyError(f"no default scenario for {kind}")


def for_kind(kind: str) -> list[Scenario]:
    return [s for s in catalogue() if kind in s.applies_to]
