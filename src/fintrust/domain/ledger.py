"""Double-entry ledger rules, in the TigerBeetle style.

Every transfer moves an amount from one account (debited) to another (credited) in one
currency, so every transaction balances by construction. A *pending* transfer reserves the
amount; exactly one later *post* or *void* transfer settles it. Nothing is ever changed or
deleted: a mistake is corrected by a new, reversing transfer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from fintrust.domain.money import Money

__all__ = [
    "SUSPENSE",
    "TRUSTLY",
    "AccountBalance",
    "AccountKind",
    "LedgerError",
    "LedgerTransaction",
    "Transfer",
    "TransferKind",
    "account_kind",
    "apply",
    "claim",
    "opens_with_no_overdraft",
    "totals_balance",
    "wallet",
]

TRUSTLY = "asset:trustly"  # money held for us at Trustly
SUSPENSE = "liability:suspense"  # received but not yet attributable: an operator decides


def wallet(customer_id: int | str) -> str:
    return f"liability:wallet:{customer_id}"


def opens_with_no_overdraft(code: str) -> bool:
    """Whether an account must refuse to pay out more than it holds from the moment it is
    opened, whatever opens it: a customer's wallet, in every currency."""
    return code.startswith(wallet(""))


def claim(claim_id: int | str) -> str:
    return f"liability:claim:{claim_id}"


class LedgerError(ValueError):
    """A transfer the ledger refuses: unbalanced, overdrawn, or settling twice."""


class AccountKind(enum.Enum):
    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        """Assets and expenses grow with debits; liabilities and income with credits."""
        return self in (AccountKind.ASSET, AccountKind.EXPENSE)


def account_kind(code: str) -> AccountKind:
    try:
        return AccountKind(code.split(":", 1)[0])
    except ValueError:
        raise LedgerError(
            f"account code {code!r} must start with asset:, liability:, income: or expense:"
        ) from None


class TransferKind(enum.Enum):
    POSTED = "posted"  # final at once
    PENDING = "pending"  # reserved, to be posted or voided once
    POST = "post"  # settles a pending transfer as final
    VOID = "void"  # releases a pending transfer


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    debit: str
    credit: str
    amount: Money
    kind: TransferKind = TransferKind.POSTED
    pending_id: str | None = None  # the pending transfer a POST or VOID settles

    def __post_init__(self) -> None:
        if not self.amount.is_positive:
            raise LedgerError("a transfer moves a positive amount")
        if self.debit == self.credit:
            raise LedgerError("a transfer needs two different accounts")
        settles = self.kind in (TransferKind.POST, TransferKind.VOID)
        if settles != (self.pending_id is not None):
            raise LedgerError("post and void transfers, and only they, name a pending_id")
        account_kind(self.debit), account_kind(self.credit)


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    """One business event. ``reference`` is unique: recording an event twice is refused."""

    reference: str
    description: str
    transfers: tuple[Transfer, ...]

    def __post_init__(self) -> None:
        if not self.transfers:
            raise LedgerError("a transaction has at least one transfer")


@dataclass(slots=True)
class AccountBalance:
    """Running totals of one account in one currency, in minor units."""

    code: str
    currency: str
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    no_overdraft: bool = False  # debits may not exceed credits (a wallet paid out from)
    kind: AccountKind = field(init=False)

    def __post_init__(self) -> None:
        self.kind = account_kind(self.code)

    @property
    def posted(self) -> Money:
        """The balance, positive on the account's normal side."""
        net = self.debits_posted - self.credits_posted
        return Money(self.currency, net if self.kind.debit_normal else -net)

    @property
    def available(self) -> Money:
        """What can still leave a credit-normal account: posted less pending debits."""
        return Money(self.currency, self.credits_posted - self.debits_posted - self.debits_pending)


def apply(
    balances: dict[str, AccountBalance],
    transfer: Transfer,
    pending: Transfer | None = None,
    *,
    enforce_no_overdraft: bool = True,
) -> None:
    """Apply ``transfer`` to the balances of its two accounts (both present in ``balances``).

    A POST or VOID must be given the ``pending`` transfer it settles (same accounts and amount).
    ``enforce_no_overdraft=False`` is for taking money back that was already given (a debit
    after a credit): such a wallet may go negative, and is then frozen for payouts.
    """
    debit, credit = balances[transfer.debit], balances[transfer.credit]
    for account in (debit, credit):
        if account.currency != transfer.amount.currency:
            raise LedgerError(f"{account.code} is kept in {account.currency}")
    minor = transfer.amount.minor
    if transfer.kind in (TransferKind.POST, TransferKind.VOID):
        if pending is None or pending.kind is not TransferKind.PENDING:
            raise LedgerError("post/void needs the pending transfer it settles")
        if (pending.debit, pending.credit, pending.amount) != (
            transfer.debit,
            transfer.credit,
            transfer.amount,
        ):
            raise LedgerError("post/void must match its pending transfer's accounts and amount")
        debit.debits_pending -= minor
        credit.credits_pending -= minor
        if transfer.kind is TransferKind.POST:
            debit.debits_posted += minor
            credit.credits_posted += minor
        return
    if transfer.kind is TransferKind.PENDING:
        debit.debits_pending += minor
        credit.credits_pending += minor
    else:
        debit.debits_posted += minor
        credit.credits_posted += minor
    if enforce_no_overdraft and debit.no_overdraft and debit.available.minor < 0:
        raise LedgerError(f"{debit.code} would be overdrawn by {-debit.available}")


def totals_balance(balances: Iterable[AccountBalance]) -> bool:
    """True when, per currency, debits equal credits over all accounts (posted and pending)."""
    per_currency: dict[str, int] = {}
    for account in balances:
        net = (
            account.debits_posted
            + account.debits_pending
            - account.credits_posted
            - account.credits_pending
        )
        per_currency[account.currency] = per_currency.get(account.currency, 0) + net
    return all(value == 0 for value in per_currency.values())
