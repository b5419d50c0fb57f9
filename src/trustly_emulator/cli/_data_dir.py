"""The emulator's data directory as the commands see it: ``emulator.json`` and the key pair.

The commands that edit ``emulator.json`` (``merchant add``/``remove``) work on its raw JSON, so
settings and fields this version does not know survive a rewrite; the commands that run an
emulator turn it into an :class:`EmulatorConfig`. Either way, a broken file or key becomes a
``click`` error that says what to fix, never a traceback.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from trustly_emulator._config import (
    CONFIG_FILE,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    EmulatorConfig,
    EmulatorKeys,
    MerchantConfig,
)

__all__ = [
    "config_path",
    "load_config",
    "load_keys",
    "load_merchants",
    "load_or_create_keys",
    "merchant_entries",
    "pick_merchant",
    "read_config",
    "write_config",
]


def config_path(data_dir: Path) -> Path:
    return data_dir / CONFIG_FILE


def read_config(data_dir: Path) -> dict[str, Any]:
    """``emulator.json`` as written, or an empty configuration when there is none yet."""
    path = config_path(data_dir)
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); fix or remove it"
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("merchants", []), list):
        raise click.ClickException(f'{path} must be a JSON object with a "merchants" list')
    return raw


def write_config(data_dir: Path, raw: Mapping[str, Any]) -> Path:
    """Replace ``emulator.json`` atomically; 0600 when a password is kept in it."""
    path = config_path(data_dir)
    secret = any(m.get("password") is not None for m in raw.get("merchants", []))
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".emulator-", suffix=".json", dir=data_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(raw, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.chmod(temporary, 0o600 if secret else 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {path}: {exc.strerror or exc}. Check that {data_dir} is writable, "
            "or choose another directory with --data-dir."
        ) from None
    return path


def merchant_entries(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = raw.get("merchants", [])
    return entries


def pick_merchant(usernames: Sequence[str], name: str | None, data_dir: Path) -> int | None:
    """The index of the merchant named ``name``; without a name, of the only merchant; None
    when there are several or none (each command words that case its own way)."""
    if name is not None:
        if name in usernames:
            return usernames.index(name)
        known = ", ".join(usernames) or "none"
        raise click.BadParameter(
            f"no merchant {name!r} in {config_path(data_dir)} (known: {known}); add it with "
            "`fintrust emulator merchant add`",
            param_hint="--merchant",
        )
    return 0 if len(usernames) == 1 else None


def load_config(data_dir: Path, base_url: str, *, read_passwords: bool = True) -> EmulatorConfig:
    """The emulator's configuration from ``emulator.json``, with clear errors.

    ``read_passwords=False`` gives every merchant an empty password instead: ``trigger`` makes
    no API request, so it must run without the password variables set.

    Not ``EmulatorConfig.from_data_dir``: that reads every password and cannot say which
    merchant of the file is broken.
    """
    raw = read_config(data_dir)
    merchants = _merchants(raw, data_dir, read_passwords=read_passwords)
    policy = {key: value for key, value in raw.items() if key != "merchants"}
    if "retry_delays" in policy:
        policy["retry_delays"] = tuple(policy["retry_delays"])
    policy["base_url"] = base_url
    try:
        return EmulatorConfig(data_dir=data_dir, merchants=merchants, **policy)
    except TypeError as exc:
        raise click.ClickException(
            f"{config_path(data_dir)} has a setting the emulator does not know: {exc}"
        ) from None


def load_merchants(data_dir: Path, *, read_passwords: bool = True) -> tuple[MerchantConfig, ...]:
    """The merchants of ``emulator.json`` alone, with :func:`load_config`'s errors: for a command
    that brings its own policy, so the file's settings (even ones it does not know) are no error.
    """
    return _merchants(read_config(data_dir), data_dir, read_passwords=read_passwords)


def _merchants(
    raw: Mapping[str, Any], data_dir: Path, *, read_passwords: bool
) -> tuple[MerchantConfig, ...]:
    return tuple(
        _merchant(entry, data_dir, read_password=read_passwords) for entry in merchant_entries(raw)
    )


def _merchant(entry: Any, data_dir: Path, *, read_password: bool) -> MerchantConfig:
    path = config_path(data_dir)
    if not isinstance(entry, dict) or not isinstance(entry.get("username"), str):
        raise click.ClickException(f'{path}: every merchant needs a "username"')
    username = entry["username"]
    # Checked without its password first: a broken entry and an unset password variable
    # (from_json's ValueError either way) need different advice.
    try:
        merchant = MerchantConfig.from_json({**entry, "password": ""}, data_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise click.ClickException(
            f"{path}: merchant {username!r} is not usable: {exc}. Fix it with "
            f"`fintrust emulator merchant add {username} ...`."
        ) from None
    if not read_password:
        return merchant
    try:
        return MerchantConfig.from_json(entry, data_dir)
    except ValueError as exc:
        raise click.ClickException(
            f"{exc} (the same value your integration sends as Password), then run this again."
        ) from None


def load_or_create_keys(data_dir: Path) -> tuple[EmulatorKeys, bool]:
    """The emulator's key pair in ``data_dir`` and whether it was created just now."""
    created = not (data_dir / PRIVATE_KEY_FILE).exists()
    try:
        keys = EmulatorKeys.load_or_create(data_dir)
    except OSError as exc:
        raise click.ClickException(
            f"cannot create or read the emulator's key pair in {data_dir}: {exc.strerror or exc}."
            " Choose a writable directory with --data-dir."
        ) from None
    except ValueError as exc:
        raise _unreadable_keys(data_dir, exc) from None
    return keys, created


def load_keys(data_dir: Path) -> EmulatorKeys:
    """The emulator's key pair in ``data_dir``, never created: notifications signed with a
    new key would fail at an integration that trusts the emulator's existing one."""
    try:
        return EmulatorKeys.load(data_dir)
    except FileNotFoundError:
        raise click.ClickException(
            f"no emulator key pair in {data_dir}: the notifications must be signed with the key "
            "your integration trusts. Create it with `fintrust emulator print-config --data-dir "
            f"{data_dir}` (or the first `fintrust emulator serve`), or point --data-dir at the "
            "emulator's directory."
        ) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot read the emulator's key pair in {data_dir}: {exc.strerror or exc}."
        ) from None
    except ValueError as exc:
        raise _unreadable_keys(data_dir, exc) from None


def _unreadable_keys(data_dir: Path, exc: ValueError) -> click.ClickException:
    return click.ClickException(
        f"the emulator's key pair in {data_dir} is not readable ({exc}). Remove "
        f"{PRIVATE_KEY_FILE} and {PUBLIC_KEY_FILE} there to get a new pair (merchants must "
        "then be given the new public key)."
    )
