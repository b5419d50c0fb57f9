"""Settings from the environment (prefix ``FINTRUST_``) or a ``.env`` file."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]

_PROCESS_SESSION_SECRET = secrets.token_urlsafe(48)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINTRUST_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/fintrust.sqlite3",
        description="SQLAlchemy URL: SQLite (the embedded default) or postgresql+psycopg://...",
    )
    # Trustly (or the emulator): where to call, who we are, whom we trust.
    trustly_api_url: str | None = Field(
        default=None,
        description="Default: Trustly's URL for trustly_environment (test or live)",
    )
    trustly_username: str = ""
    trustly_password: SecretStr = SecretStr("")
    trustly_private_key_file: Path = Path("merchant_private.pem")
    trustly_public_key_file: Path | None = Field(
        default=None, description="Trustly's public key; default: the bundled TEST key"
    )
    trustly_environment: str = "test"
    notification_url: str = Field(
        default="http://127.0.0.1:8000/trustly/notifications",
        description="The NotificationURL sent to Trustly: hard to guess, no '?'",
    )
    public_base_url: str = "http://127.0.0.1:8000"
    # Signs the customer pages' session cookies and CSRF tokens. The default is random per
    # process: sessions end on restart and differ between processes. Production MUST set it
    # (the same long random value in every process, e.g. `python -c "import secrets;
    # print(secrets.token_urlsafe(48))"`), and never show or log it.
    session_secret: SecretStr = Field(
        default=SecretStr(_PROCESS_SESSION_SECRET),
        description="Key for the customer pages' session cookies and CSRF tokens; set it in "
        "production (default: random per process)",
    )
    shopper_statement: str = "fintrust"
    max_notification_bytes: int = 64 * 1024
    notification_linger_ms: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="Under load, how long a batch of notifications waits for more to join it "
        "(one transaction and commit for all); 0: never",
    )
    # GetWithdrawals: Trustly asks for at most one call per payout every 15 minutes.
    payout_poll_interval_seconds: int = 15 * 60
    worker_poll_seconds: float = 1.0
    payoutconfirmation_enabled: bool = Field(
        default=True,
        description="Trustly sends us payoutconfirmation (an optional notification); when off, "
        "the worker posts a payout once GetWithdrawals reports it executed",
    )
    reconcile_interval_minutes: float = Field(
        default=60, description="How often the worker reconciles with Balance; 0: never"
    )
    acceptance_hook: bool = Field(
        default=False,
        description="Serve /_acceptance (the emulator's acceptance runner hook): demo/test only",
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="Logs as JSON lines or readable lines; auto: readable on a terminal",
    )
    # /metrics tells anyone who can read it how much money moves: keep it off the public
    # proxy, or set a token that Prometheus sends as a bearer token.
    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="When set, GET /metrics needs 'Authorization: Bearer <token>'",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="When set, `fintrust worker` serves its metrics on this port",
    )
    worker_metrics_host: str = "127.0.0.1"
