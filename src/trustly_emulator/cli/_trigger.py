"""``fintrust emulator trigger``: fire one scenario at a NotificationURL, no server needed."""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import logging
import secrets
import uuid as uuid_module
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
import httpx

from trustly_emulator._config import MerchantConfig
from trustly_emulator._scenarios import Scenario, catalogue
from trustly_emulator.cli._common import (
    CURRENCY,
    OPTIONAL_NOTIFICATIONS,
    data_dir_option,
    read_public_key,
    scenario_kinds,
    stdout,
)
from trustly_emulator.cli._data_dir import config_path, load_config, load_keys, pick_merchant
from trustly_emulator.cli._trigger_report import render_run
from trustly_emulator.cli._trigger_run import Override, run_trigger

__all__ = ["trigger"]

TRIGGER_MERCHANT = "merchant"  # the merchant a trigger runs as when emulator.json has none


def _parse_amount(_ctx: click.Context, _param: click.Parameter, value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not an amount, e.g. 10.00") from None
    if not amount.is_finite() or amount <= 0:
        raise click.BadParameter(f"{value!r}: the amount must be positive")
    return amount


@click.command("trigger", short_help="Fire one scenario at a NotificationURL.")
@click.argument("scenario_id", metavar="SCENARIO")
@click.option(
    "--notification-url",
    required=True,
    metavar="URL",
    help="Your NotificationURL: where the notifications are POSTed.",
)
@data_dir_option
@click.option(
    "--merchant",
    "merchant_name",
    metavar="NAME",
    help="Which merchant of emulator.json the order is for (default: the only one). Its public "
    "key and its optional notifications apply.",
)
@click.option(
    "--merchant-public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="PEM",
    help="Verify the replies' signatures with this key (default: the merchant's key in "
    "emulator.json). Without a key, replies are shown but their signatures not checked.",
)
@click.option(
    "--kind",
    type=click.Choice(scenario_kinds()),
    help="The kind of order [default: the scenario's first kind, e.g. Deposit].",
)
@click.option(
    "--amount",
    default="10.00",
    show_default=True,
    callback=_parse_amount,
    help="The order's amount.",
)
@click.option("--currency", default="EUR", show_default=True, help="The order's currency.")
@click.option(
    "--enduserid",
    "end_user_id",
    default="emulator-trigger",
    show_default=True,
    metavar="ID",
    help="The order's EndUserID.",
)
@click.option(
    "--messageid", "message_id", metavar="ID", help="The order's MessageID [default: a new one]."
)
@click.option(
    "--orderid", "order_id", metavar="ID", help="The order's OrderID [default: a new 10-digit id]."
)
@click.option(
    "--attempts",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Delivery attempts per notification before giving up (Trustly keeps re-delivering "
    "for days; the waits in between are skipped here).",
)
@click.option(
    "--override",
    "override_values",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set KEY to VALUE (a string) in every notification's data, or only in one method's "
    "with METHOD:KEY=VALUE; repeatable. E.g. --override amount=5.00, --override "
    "credit:currency=SEK.",
)
def trigger(
    *,
    scenario_id: str,
    notification_url: str,
    data_dir: Path,
    merchant_name: str | None,
    merchant_public_key: Path | None,
    kind: str | None,
    amount: Decimal,
    currency: str,
    end_user_id: str,
    message_id: str | None,
    order_id: str | None,
    attempts: int,
    override_values: tuple[str, ...],
) -> None:
    """Run SCENARIO end to end against your NotificationURL, without a running emulator.

    Plays one order through the scenario on a fast-forwarded clock: every notification is
    signed with the emulator's key from DATA_DIR (so your integration must trust that key, see
    `print-config`), delivered, and re-delivered like Trustly does until a valid signed reply
    comes or the attempts run out. Prints every attempt; exits 1 when any notification was not
    delivered with a valid reply.

    \b
    Examples:
      fintrust emulator trigger deposit-ok --notification-url http://127.0.0.1:8000/notify
      fintrust emulator trigger D1 --notification-url http://127.0.0.1:8000/notify \\
        --merchant-public-key merchant_public.pem --amount 250.00 --currency SEK
      fintrust emulator trigger deposit-ok --notification-url http://127.0.0.1:8000/notify \\
        --override credit:amount=5.00
    """
    chosen = _find_scenario(scenario_id)
    kind = kind or chosen.applies_to[0]
    if kind not in chosen.applies_to:
        raise click.BadParameter(
            f"{chosen.id} is for {', '.join(chosen.applies_to)} orders, not {kind}",
            param_hint="--kind",
        )
    parts = httpx.URL(notification_url)
    if parts.scheme not in ("http", "https") or not parts.host:
        raise click.BadParameter(
            f"{notification_url!r} is not an http(s) URL", param_hint="--notification-url"
        )
    currency = currency.upper()
    if not CURRENCY.match(currency):
        raise click.BadParameter(f"{currency!r} is not a currency code", param_hint="--currency")
    overrides = _parse_overrides(override_values)
    keys = load_keys(data_dir)
    config = dataclasses.replace(
        load_config(data_dir, "http://emulator.invalid", read_passwords=False),
        max_attempts=attempts,
        seed=secrets.randbits(64),  # new notification ids on every run, as at Trustly
    )
    merchant = _trigger_merchant(config.merchants, merchant_name, data_dir)
    if merchant_public_key is not None:
        merchant = dataclasses.replace(
            merchant, public_key_pem=read_public_key(merchant_public_key, "--merchant-public-key")
        )
    # The table shows every attempt; keep the delivery log's "gave up" warnings off stderr.
    package_logger = logging.getLogger("trustly_emulator")
    if not package_logger.handlers:
        package_logger.addHandler(logging.NullHandler())
    # Looked up on the package when called, so tests can replace it there with an in-process
    # client.
    from trustly_emulator import cli  # noqa: PLC0415 - the package imports this module

    run = asyncio.run(
        run_trigger(
            config=config,
            keys=keys,
            merchant=merchant,
            chosen=chosen,
            kind=kind,
            notification_url=notification_url,
            amount=None if kind == "SelectAccount" else amount,
            currency=None if kind == "SelectAccount" else currency,
            end_user_id=end_user_id,
            message_id=message_id or f"trigger-{uuid_module.uuid4().hex[:12]}",
            order_id=order_id or str(1_000_000_000 + secrets.randbelow(9_000_000_000)),
            overrides=overrides,
            http_client_factory=cli.http_client_factory,
        )
    )
    render_run(run, stdout())
    if run.failures():
        click.get_current_context().exit(1)


def _find_scenario(scenario_id: str) -> Scenario:
    for candidate in catalogue():
        if candidate.id == scenario_id:
            return candidate
    ids = [s.id for s in catalogue()]
    close = difflib.get_close_matches(scenario_id, ids, n=3)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise click.BadParameter(
        f"no scenario {scenario_id!r}.{hint} List them with `fintrust emulator scenarios`.",
        param_hint="SCENARIO",
    )


def _parse_overrides(values: Iterable[str]) -> list[Override]:
    overrides = []
    for value in values:
        target, sep, text = value.partition("=")
        method, colon, key = target.rpartition(":")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"{value!r}: expected KEY=VALUE or METHOD:KEY=VALUE, e.g. amount=5.00 or "
                "credit:amount=5.00",
                param_hint="--override",
            )
        overrides.append(Override(key.strip(), text, method.strip().lower() if colon else None))
    return overrides


def _trigger_merchant(
    merchants: tuple[MerchantConfig, ...], name: str | None, data_dir: Path
) -> MerchantConfig:
    """The merchant the order is for: the one named, else the only one in emulator.json, else
    a stand-in that gets every optional notification."""
    index = pick_merchant([m.username for m in merchants], name, data_dir)
    if index is not None:
        return merchants[index]
    if merchants:
        known = ", ".join(m.username for m in merchants)
        raise click.UsageError(
            f"{config_path(data_dir)} has several merchants ({known}); choose one with --merchant"
        )
    return MerchantConfig(
        username=TRIGGER_MERCHANT, password="", notifications=frozenset(OPTIONAL_NOTIFICATIONS)
    )
