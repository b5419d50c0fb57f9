"""Configuration: merchants, delivery policy, and the emulator's own key pair."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from fintrust.trustly import Signer, generate_key_pair, load_public_key

__all__ = ["EmulatorConfig", "EmulatorKeys", "MerchantConfig", "key_fingerprint"]

PRIVATE_KEY_FILE = "emulator_private.pem"
PUBLIC_KEY_FILE = "emulator_public.pem"
CONFIG_FILE = "emulator.json"


@dataclass(frozen=True)
class MerchantConfig:
    """A merchant account at the emulator, as Trustly's integration team would set it up."""

    username: str
    password: str = field(repr=False)
    public_key_pem: str | None = None  # None: requests get 639 ERROR_NO_PUBLIC_KEY
    notifications: frozenset[str] = frozenset()  # account, payoutconfirmation, payoutfailed
    balances: dict[str, str] = field(default_factory=dict)  # starting balances, e.g. {"EUR": "0"}

    def __post_init__(self) -> None:
        if self.public_key_pem is not None:
            load_public_key(self.public_key_pem)  # fail at start-up, not on the first request
        unknown = set(self.notifications) - {"account", "payoutconfirmation", "payoutfailed"}
        if unknown:
            raise ValueError(f"unknown optional notifications: {', '.join(sorted(unknown))}")

    @classmethod
    def from_json(cls, raw: dict[str, Any], base: Path) -> MerchantConfig:
        key = raw.get("public_key_pem")
        if key is None and raw.get("public_key_file"):
            key = (base / raw["public_key_file"]).read_text(encoding="ascii")
        password = raw.get("password")
        if password is None and raw.get("password_env"):
            password = os.environ.get(raw["password_env"])
            if password is None:
                raise ValueError(
                    f"merchant {raw['username']!r}: set the environment variable "
                    f"{raw['password_env']} to its API password"
                )
        return cls(
            username=raw["username"],
            password=password or "",
            public_key_pem=key,
            notifications=frozenset(raw.get("notifications", ())),
            balances=dict(raw.get("balances", {})),
        )


@dataclass(frozen=True)
class EmulatorConfig:
    base_url: str = "http://127.0.0.1:8100"  # where the checkout pages are served
    data_dir: Path | None = None  # keeps the key pair; None: an ephemeral key (tests)
    merchants: tuple[MerchantConfig, ...] = ()
    require_tls: bool = False  # when True, an http:// NotificationURL gets 734
    # Trustly re-sends with growing intervals but publishes no schedule; this one is ours.
    retry_delays: tuple[float, ...] = (5, 15, 60, 300, 900, 1800, 3600)
    max_attempts: int = 20
    delivery_timeout: float = 10.0
    # An untouched checkout is cancelled after this long (Trustly: 10-30 minutes of inactivity).
    abandon_after: float = 1800.0
    # Ids (orders, notifications, accounts) come from a random generator; fix the seed only for
    # reproducible tests. A fixed seed on a served emulator would repeat notificationids across
    # restarts, which a merchant that remembers them rightly ignores as re-deliveries.
    seed: int | None = None

    def retry_delay(self, attempts: int) -> float:
        index = min(attempts - 1, len(self.retry_delays) - 1)
        return self.retry_delays[max(index, 0)]

    @classmethod
    def from_data_dir(cls, data_dir: Path, **overrides: Any) -> EmulatorConfig:
        """Read ``emulator.json`` from ``data_dir`` when it exists (merchants, policy)."""
        raw: dict[str, Any] = {}
        path = data_dir / CONFIG_FILE
        if path.exists():
            raw = json.loads(path.read_text(encoding="utf-8"))
        merchants = tuple(MerchantConfig.from_json(m, data_dir) for m in raw.pop("merchants", []))
        if "retry_delays" in raw:
            raw["retry_delays"] = tuple(raw["retry_delays"])
        return cls(data_dir=data_dir, merchants=merchants, **{**raw, **overrides})


@dataclass(frozen=True)
class EmulatorKeys:
    """The key pair the emulator signs responses and notifications with, in place of Trustly's."""

    signer: Signer
    public_pem: str

    @classmethod
    def ephemeral(cls) -> EmulatorKeys:
        private_pem, public_pem = generate_key_pair()
        return cls(Signer.from_pem(private_pem), public_pem.decode("ascii"))

    @classmethod
    def load(cls, data_dir: Path) -> EmulatorKeys:
        """The pair kept in ``data_dir``; never creates one (signing as an emulator that does
        not exist would only confuse)."""
        private_path = data_dir / PRIVATE_KEY_FILE
        if not private_path.exists():
            raise FileNotFoundError(
                f"no emulator key pair in {data_dir}: start the emulator once "
                "(`fintrust emulator serve`) or run `fintrust emulator print-config` to create it"
            )
        return cls.from_private_key_file(private_path)

    @classmethod
    def from_private_key_file(cls, path: Path) -> EmulatorKeys:
        """The pair of the private key (PEM) in ``path``, its public half derived from it."""
        signer = Signer.from_file(path)
        return cls(signer, _public_pem(signer))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> EmulatorKeys:
        """The pair kept in ``data_dir``, generated on first start (private key mode 0600)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        private_path, public_path = data_dir / PRIVATE_KEY_FILE, data_dir / PUBLIC_KEY_FILE
        if not private_path.exists():
            private_pem, public_pem = generate_key_pair()
            fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(private_pem)
            public_path.write_bytes(public_pem)
        signer = Signer.from_file(private_path)
        if not public_path.exists():
            public_path.write_text(_public_pem(signer), encoding="ascii")
        return cls(signer, public_path.read_text(encoding="ascii"))


def key_fingerprint(public_pem: str | bytes) -> str:
    """``sha256:`` and the hex SHA-256 of the key's DER SubjectPublicKeyInfo, the same as
    ``openssl pkey -pubin -outform DER | sha256sum``."""
    der = load_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _public_pem(signer: Signer) -> str:
    return signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
