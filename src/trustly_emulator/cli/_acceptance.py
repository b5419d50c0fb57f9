"""``fintrust emulator acceptance``: the acceptance runner on the command line.

Exit codes: 0 every scenario passed (skipped ones allowed), 1 a scenario failed, 2 usage error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from fintrust.trustly import currency_exponent, format_amount, parse_amount
from trustly_emulator._config import EmulatorKeys, MerchantConfig
from trustly_emulator.acceptance import (
    AcceptanceConfig,
    AcceptanceReport,
    available_checks,
    render_report,
    run_acceptance,
)
from trustly_emulator.cli._common import read_private_key, read_public_key
from trustly_emulator.cli._data_dir import load_keys, load_merchants, pick_merchant

__all__ = ["acceptance_command"]

HTTP_TIMEOUT = 10.0  # seconds per request to the merchant
DEFAULT_MERCHANT = "merchant"  # the username with --merchant-public-key and no --merchant


@click.command("acceptance")
@click.option(
    "--notification-url",
    required=True,
    help="The merchant's notification URL (the NotificationURL it gives Trustly).",
)
@click.option(
    "--hook-url",
    help="The merchant's acceptance hook (POST /orders, GET /state) to create orders and "
    "check their effect on the books. Without it, orders are synthetic and effects unchecked.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The emulator's data directory: sign as its key pair (emulator_private.pem), and "
    "find the merchant in its emulator.json.",
)
@click.option(
    "--private-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Sign as this private key (PEM) instead; it must be the one the merchant trusts.",
)
@click.option(
    "--merchant-public-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The merchant's public key (PEM), to verify its replies. Default: from emulator.json.",
)
@click.option("--merchant", "merchant_name", help="Which merchant of emulator.json to use.")
@click.option(
    "--scenario",
    "scenario_ids",
    multiple=True,
    metavar="ID",
    help="Run only this scenario or check (repeatable). Default: all of them.",
)
@click.option("--currency", default="EUR", show_default=True)
@click.option("--amount", default="10.00", show_default=True, help="Each order's amount.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def acceptance_command(
    *,
    notification_url: str,
    hook_url: str | None,
    data_dir: Path | None,
    private_key: Path | None,
    merchant_public_key: Path | None,
    merchant_name: str | None,
    scenario_ids: tuple[str, ...],
    currency: str,
    amount: str,
    as_json: bool,
) -> None:
    """Check a merchant's notification handling against every scenario of the catalogue.

    Plays Trustly against NOTIFICATION_URL on a virtual clock (retries and delays take no
    time), signing as the emulator identity the merchant trusts, and reports what each reply
    and effect should have been and what it was.

    Exit status: 0 when every scenario passed (skipped ones allowed), 1 when one failed, 2 on
    a usage error. With both --data-dir and --private-key, the private key signs and the data
    directory only names the merchant.

    \b
    Examples:
      fintrust emulator acceptance --data-dir .emulator \\
          --notification-url http://localhost:8000/trustly/notifications \\
          --hook-url http://localhost:8000/acceptance
    """
    for url, hint in ((notification_url, "--notification-url"), (hook_url, "--hook-url")):
        if url is not None and not url.startswith(("http://", "https://")):
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint=hint)
    keys = _keys(data_dir, private_key)
    username, public_pem = _merchant(data_dir, merchant_public_key, merchant_name)
    currency = currency.upper()
    try:
        currency_exponent(currency)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--currency") from None
    try:
        value = parse_amount(amount)
        format_amount(value, currency)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--amount") from None
    known = [check_id for check_id, _ in available_checks()]
    for scenario_id in scenario_ids:
        if scenario_id not in known:
            raise click.BadParameter(
                f"no scenario {scenario_id!r}; one of: {', '.join(known)}", param_hint="--scenario"
            )
    config = AcceptanceConfig(
        notification_url=notification_url,
        hook_url=hook_url,
        keys=keys,
        merchant_username=username,
        merchant_public_key_pem=public_pem,
        scenario_ids=scenario_ids,
        currency=currency,
        amount=value,
    )
    # Notifications the merchant never accepted are in the report; no log lines about them.
    delivery_log = logging.getLogger("trustly_emulator.delivery")
    if not delivery_log.handlers:
        delivery_log.addHandler(logging.NullHandler())
    report = asyncio.run(_run(config, show_progress=not as_json))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        render_report(report, Console())
    raise SystemExit(0 if report.ok else 1)


async def _run(config: AcceptanceConfig, *, show_progress: bool) -> AcceptanceReport:
    # Looked up on the package when called, so tests can replace it there with an in-process
    # client.
    from trustly_emulator import cli  # noqa: PLC0415 - the package imports this module

    http = cli.http_client_factory(HTTP_TIMEOUT)
    try:
        if not show_progress:
            return await run_acceptance(config, http_client=http)
        with Progress(
            TextColumn("[bold]acceptance[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("", total=None)

            def update(item: str, done: int, total: int) -> None:
                bar.update(task, description=item, completed=done, total=total)

            return await run_acceptance(config, http_client=http, progress=update)
    finally:
        await http.aclose()


def _keys(data_dir: Path | None, private_key: Path | None) -> EmulatorKeys:
    """The emulator identity, loaded, never created: a new key would be one no merchant trusts."""
    if private_key is not None:
        return read_private_key(private_key, "--private-key")
    if data_dir is None:
        raise click.UsageError(
            "give --data-dir (the emulator's data directory) or --private-key: the runner "
            "signs notifications as the emulator identity the merchant trusts"
        )
    with _usage_errors("--data-dir"):
        return load_keys(data_dir)


def _merchant(data_dir: Path | None, key_file: Path | None, name: str | None) -> tuple[str, str]:
    """(username, public key PEM): from --merchant-public-key, else from emulator.json."""
    if key_file is not None:
        return name or DEFAULT_MERCHANT, read_public_key(key_file, "--merchant-public-key")
    merchants = [(m.username, m.public_key_pem) for m in _configured_merchants(data_dir)]
    if name is not None:
        if data_dir is not None:  # a name emulator.json does not list: the usual error
            pick_merchant([user for user, _ in merchants], name, data_dir)
        chosen = [pem for user, pem in merchants if user == name]
        if not chosen or chosen[0] is None:
            raise click.BadParameter(
                f"emulator.json has no merchant {name!r} with a public key; give "
                "--merchant-public-key",
                param_hint="--merchant",
            )
        return name, chosen[0]
    with_keys = [(user, pem) for user, pem in merchants if pem is not None]
    if len(with_keys) == 1:
        return with_keys[0]
    if with_keys:
        names = ", ".join(user for user, _ in with_keys)
        raise click.UsageError(
            f"emulator.json lists several merchants ({names}): pick one with "
            "--merchant, or give --merchant-public-key"
        )
    raise click.UsageError(
        "give --merchant-public-key (the merchant's public key, to verify its replies), or a "
        "--data-dir whose emulator.json lists one merchant with a public key"
    )


def _configured_merchants(data_dir: Path | None) -> tuple[MerchantConfig, ...]:
    """The merchants of ``data_dir``'s emulator.json (none without one); the runner needs
    neither their passwords nor the file's delivery policy."""
    if data_dir is None:
        return ()
    with _usage_errors("--data-dir"):
        return load_merchants(data_dir, read_passwords=False)


@contextlib.contextmanager
def _usage_errors(param_hint: str) -> Iterator[None]:
    """The data directory's errors as usage errors of ``param_hint`` (exit 2): the other
    commands exit 1 on them, but here 1 means that a scenario failed."""
    try:
        yield
    except click.UsageError:
        raise
    except click.ClickException as exc:
        raise click.BadParameter(exc.message, param_hint=param_hint) from None
