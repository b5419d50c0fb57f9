"""What ``serve``, ``worker`` and ``reconcile`` share: settings from the environment, checked up
front, turned into the app's :class:`~fintrust.web.app.Services` — with errors that say which
setting to fix instead of a traceback on the first request."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from fintrust.settings import Settings

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["build_services", "check_settings", "load_settings"]


def load_settings(**overrides: object) -> Settings:
    """Settings from FINTRUST_* variables and ``.env``; ``overrides`` win."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [
            f"  FINTRUST_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        ]
        raise click.ClickException("invalid settings:\n" + "\n".join(lines)) from None


def check_settings(settings: Settings) -> None:
    """Refuse to start with settings that can only fail later."""
    problems = []
    if not settings.trustly_username:
        problems.append("FINTRUST_TRUSTLY_USERNAME is not set (your API username at Trustly)")
    if not settings.trustly_password.get_secret_value():
        problems.append("FINTRUST_TRUSTLY_PASSWORD is not set (your API password at Trustly)")
    key = settings.trustly_private_key_file
    if not key.is_file():
        problems.append(
            f"no merchant private key at {key}: create a key pair with `fintrust keys generate` "
            "or point FINTRUST_TRUSTLY_PRIVATE_KEY_FILE at yours"
        )
    public = settings.trustly_public_key_file
    if public is not None and not public.is_file():
        problems.append(
            f"FINTRUST_TRUSTLY_PUBLIC_KEY_FILE={public} does not exist (Trustly's public key, or "
            "the emulator's emulator_public.pem; unset it to use Trustly's bundled TEST key)"
        )
    if settings.trustly_environment not in ("test", "live"):
        problems.append(
            f"FINTRUST_TRUSTLY_ENVIRONMENT={settings.trustly_environment!r}: use test or live"
        )
    if "?" in settings.notification_url:
        problems.append("FINTRUST_NOTIFICATION_URL must not contain '?' (Trustly refuses it)")
    if problems:
        raise click.ClickException(
            "cannot start:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )


def build_services(settings: Settings) -> Services:
    """The database engine and the Trustly gateway for ``settings``, checked first."""
    from fintrust.adapters.db.engine import make_engine  # noqa: PLC0415 - keep --help fast
    from fintrust.adapters.trustly import TrustlyGateway  # noqa: PLC0415
    from fintrust.web.app import Services  # noqa: PLC0415

    check_settings(settings)
    try:
        gateway = TrustlyGateway.from_settings(settings)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot load the keys: {exc}") from None
    try:
        engine = make_engine(settings.database_url)
    except Exception as exc:  # a malformed URL, a missing driver
        raise click.ClickException(
            f"FINTRUST_DATABASE_URL={settings.database_url!r} is not usable: {exc}"
        ) from None
    return Services(settings, engine, gateway)
