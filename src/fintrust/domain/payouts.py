"""A payout (AccountPayout) order: reserved when requested, posted when confirmed, voided on
failure before that, reversed by a new transfer when returned after. Each exactly once."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from fintrust.domain.money import Money

__all__ = [
    "ParkInSuspense",
    "PayoutOrder",
    "PayoutState",
    "PostReservation",
    "ReturnPayout",
    "VoidReservation",
    "on_cancel",
    "on_confirmed",
    "on_credit",
    "on_rejected",
    "on_sent",
]


class PayoutState(enum.Enum):
    REQUESTED = "requested"  # reserved; the AccountPayout call is in the outbox
    SENT = "sent"  # Trustly accepted it (result "1")
    CONFIRMED = "confirmed"  # payoutconfirmation, or GetWithdrawals executed: posted
    FAILED = "failed"  # refused, cancelled or failed before confirmation: voided
    RETURNED = "returned"  # came back after confirmation: reversed


@dataclass(frozen=True, slots=True)
class PayoutOrder:
    id: int
    customer_id: int
    message_id: str
    amount: Money
    state: PayoutState = PayoutState.REQUESTED

    @property
    def open(self) -> bool:
        """The reservation is still pending (neither posted nor voided)."""
        return self.state in (PayoutState.REQUESTED, PayoutState.SENT)


@dataclass(frozen=True, slots=True)
class PostReservation:
    pass


@dataclass(frozen=True, slots=True)
class VoidReservation:
    reason: str


@dataclass(frozen=True, slots=True)
class ReturnPayout:
    amount: Money
    reason: str


@dataclass(frozen=True, slots=True)
class ParkInSuspense:
    """Money came back that does not match the payout: an operator decides."""

    amount: Money
    reason: str


Effect = PostReservation | VoidReservation | ReturnPayout | ParkInSuspense


def on_sent(order: PayoutOrder) -> tuple[PayoutOrder, list[Effect]]:
    if order.state is PayoutState.REQUESTED:
        return replace(order, state=PayoutState.SENT), []
    return order, []  # a notification may have overtaken the call's answer


def on_rejected(order: PayoutOrder, reason: str) -> tuple[PayoutOrder, list[Effect]]:
    """Trustly refused the call for sure (a definite error, or result "0")."""
    if order.open:
        return replace(order, state=PayoutState.FAILED), [VoidReservation(reason)]
    return order, []


def on_confirmed(order: PayoutOrder) -> tuple[PayoutOrder, list[Effect]]:
    if order.open:
        return replace(order, state=PayoutState.CONFIRMED), [PostReservation()]
    return order, []


def on_credit(order: PayoutOrder, amount: Money) -> tuple[PayoutOrder, list[Effect]]:
    """The money came back: before confirmation the reservation is voided, after it a new
    transfer returns it. A credit of another amount or currency is parked in suspense and
    settles nothing. A second credit (or a credit after a cancel) changes nothing."""
    if order.state in (PayoutState.FAILED, PayoutState.RETURNED):
        return order, []
    if amount != order.amount:
        # Before, any credit voided or returned the payout, and a returned one gave the customer
        # whatever amount and currency the credit named (1000.00 back for a 30.00 payout). Money
        # that does not match the order goes to suspense, as for deposits (DESIGN.md).
        return order, [ParkInSuspense(amount, f"credited {amount} for a payout of {order.amount}")]
    if order.open:
        return replace(order, state=PayoutState.FAILED), [VoidReservation("payout failed")]
    if order.state is PayoutState.CONFIRMED:
        return replace(order, state=PayoutState.RETURNED), [ReturnPayout(amount, "payout returned")]
    return order, []


def on_cancel(order: PayoutOrder) -> tuple[PayoutOrder, list[Effect]]:
    if order.open:
        return replace(order, state=PayoutState.FAILED), [VoidReservation("payout cancelled")]
    return order, []
