"""A deposit (pay-in) order and what each notification does to it.

Only notifications move money: ``credit`` gives it to the customer, a ``debit`` after it takes it
back, ``cancel`` ends an order that had no credit. ``account``, ``pending`` and ``credit`` arrive
in any order. An amount or currency other than the order's is parked in suspense for an
operator, never silently accepted or dropped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from fintrust.domain.money import Money

__all__ = [
    "CreditCustomer",
    "DepositOrder",
    "DepositState",
    "Effect",
    "ParkInSuspense",
    "ReleaseSuspense",
    "ReverseCredit",
    "on_cancel",
    "on_credit",
    "on_debit",
    "on_pending",
]


class DepositState(enum.Enum):
    CREATED = "created"  # written, Deposit not yet answered
    STARTED = "started"  # Trustly gave an order id and a checkout URL
    PENDING = "pending"  # the customer finished the checkout; the money has not arrived
    CREDITED = "credited"
    REVERSED = "reversed"  # credited, then debited back
    CANCELLED = "cancelled"
    REVIEW = "review"  # money arrived that does not match the order: an operator decides
    FAILED = "failed"  # Trustly refused the Deposit call


@dataclass(frozen=True, slots=True)
class DepositOrder:
    id: int
    customer_id: int
    message_id: str
    currency: str
    amount: Money | None  # None: the customer chooses it in the checkout
    state: DepositState = DepositState.CREATED
    credited: Money | None = None  # given to the customer and not taken back
    in_suspense: Money | None = None  # received for this order, parked for review

    @property
    def settled(self) -> bool:
        return self.state in (DepositState.CREDITED, DepositState.REVERSED)


@dataclass(frozen=True, slots=True)
class CreditCustomer:
    amount: Money


@dataclass(frozen=True, slots=True)
class ReverseCredit:
    """Take back money given to the customer: their wallet may go negative (then frozen)."""

    amount: Money


@dataclass(frozen=True, slots=True)
class ParkInSuspense:
    amount: Money  # negative: money taken back that we never gave
    reason: str


@dataclass(frozen=True, slots=True)
class ReleaseSuspense:
    """Money parked for this order leaves again (a debit of a credit we had parked)."""

    amount: Money


Effect = CreditCustomer | ReverseCredit | ParkInSuspense | ReleaseSuspense


def _add(total: Money | None, amount: Money) -> Money:
    return amount if total is None else total + amount


def on_pending(order: DepositOrder) -> tuple[DepositOrder, list[Effect]]:
    if order.state in (DepositState.CREATED, DepositState.STARTED):
        return replace(order, state=DepositState.PENDING), []
    return order, []  # pending after credit (any order is allowed): nothing to do


def on_credit(order: DepositOrder, amount: Money) -> tuple[DepositOrder, list[Effect]]:
    """Money arrived. Credit it when it is what the order asked for, else park it."""
    expected = order.amount
    problem = None
    if amount.currency != order.currency:
        problem = f"credited in {amount.currency}, the order is in {order.currency}"
    elif expected is not None and amount != expected:
        problem = f"credited {amount}, the order asked for {expected}"
    elif order.credited is not None:
        problem = f"a second credit of {amount} for an order already credited"
    elif order.state in (DepositState.CANCELLED, DepositState.FAILED):
        problem = f"credited {amount} after the order was {order.state.value}"
    if problem is not None:
        parked = replace(
            order, state=DepositState.REVIEW, in_suspense=_add(order.in_suspense, amount)
        )
        return parked, [ParkInSuspense(amount, problem)]
    credited = replace(order, state=DepositState.CREDITED, credited=amount)
    return credited, [CreditCustomer(amount)]


def on_debit(order: DepositOrder, amount: Money) -> tuple[DepositOrder, list[Effect]]:
    """The deposit did not settle: take back what was given (or what was parked)."""
    if order.credited is not None and amount.currency == order.credited.currency:
        taken = min(amount, order.credited)
        effects: list[Effect] = [ReverseCredit(taken)]
        rest = amount - taken
        left = order.credited - taken
        state = DepositState.REVERSED if not left.is_positive else order.state
        order = replace(order, credited=left if left.is_positive else None, state=state)
        if rest.is_positive:
            effects.append(ParkInSuspense(-rest, f"debited {rest} more than was credited"))
        return order, effects
    if order.in_suspense is not None and amount.currency == order.in_suspense.currency:
        return replace(order, in_suspense=order.in_suspense - amount), [ReleaseSuspense(amount)]
    return order, [ParkInSuspense(-amount, f"debited {amount} for a deposit never credited")]


def on_cancel(order: DepositOrder) -> tuple[DepositOrder, list[Effect]]:
    if order.state in (DepositState.CREATED, DepositState.STARTED, DepositState.PENDING):
        return replace(order, state=DepositState.CANCELLED), []
    return order, []  # a cancel after a credit changes nothing; a debit would take it back
