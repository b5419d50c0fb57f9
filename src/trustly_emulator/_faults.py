"""Fault injection: rules that make delivery misbehave, per merchant or per order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FAULT_KINDS", "FaultRule", "FaultRules"]

FaultKind = Literal["duplicate", "shuffle", "delay", "drop_reply", "reset"]
FAULT_KINDS: tuple[FaultKind, ...] = ("duplicate", "shuffle", "delay", "drop_reply", "reset")
_ids = itertools.count(1)


@dataclass
class FaultRule:
    """``kind`` applies to notifications matching every given filter.

    * ``duplicate``: each notification is delivered once more after its valid reply.
    * ``shuffle``: an order's scenario events are delivered in a random order.
    * ``delay``: events happen ``seconds`` later.
    * ``drop_reply``: a valid reply is thrown away after the merchant committed; re-delivery.
    * ``reset``: the connection is reset while the request is being sent; re-delivery.

    ``times`` limits how often the rule fires (None: always).
    """

    kind: FaultKind
    merchant: str | None = None
    order_id: str | None = None
    methods: list[str] | None = None
    times: int | None = None
    seconds: float = 0.0
    id: int = field(default_factory=lambda: next(_ids))

    def matches(self, merchant: str, order_id: str, method: str | None) -> bool:
        return (
            (self.times is None or self.times > 0)
            and self.merchant in (None, merchant)
            and self.order_id in (None, order_id)
            and (method is None or self.methods is None or method in self.methods)
        )


class FaultRules:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        if rule.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {rule.kind!r}; one of {', '.join(FAULT_KINDS)}")
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def take(
        self, kind: FaultKind, merchant: str, order_id: str, method: str | None
    ) -> FaultRule | None:
        """The first matching rule of ``kind``, counting one use of it."""
        for rule in self.rules:
            if rule.kind == kind and rule.matches(merchant, order_id, method):
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None
