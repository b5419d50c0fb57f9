"""Fake banks: a handful per country, national login formats, magic values and accounts."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = [
    "BANKS",
    "LOGIN_FORMATS",
    "Bank",
    "LoginOutcome",
    "accounts_for",
    "check_login",
    "clearing_house_bank",
    "validate_account_number",
]


@dataclass(frozen=True)
class Bank:
    code: str
    name: str
    country: str
    clearing_house: str
    bank_number: str


_BANK_TABLE = {
    "SE": ("SWEDEN", ["Swedbank", "SEB", "Handelsbanken", "Nordea"]),
    "FI": ("FINLAND", ["Nordea", "OP Financial Group", "Danske Bank", "S-Pankki"]),
    "NO": ("NORWAY", ["DNB", "SpareBank 1", "Nordea"]),
    "DK": ("DENMARK", ["Danske Bank", "Jyske Bank", "Nordea"]),
    "DE": ("GERMANY", ["Deutsche Bank", "Commerzbank", "Sparkasse"]),
    "NL": ("NETHERLANDS", ["ING", "Rabobank", "ABN AMRO"]),
    "EE": ("ESTONIA", ["Swedbank", "SEB", "LHV"]),
    "GB": ("UNITED_KINGDOM", ["Barclays", "HSBC", "Lloyds"]),
    "ES": ("SPAIN", ["Santander", "BBVA", "CaixaBank"]),
    "PL": ("POLAND", ["PKO Bank Polski", "mBank", "Pekao"]),
}
BANKS: dict[str, list[Bank]] = {
    country: [
        Bank(
            code=f"{country.lower()}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}",
            name=name,
            country=country,
            clearing_house=clearing_house,
            bank_number=f"{8000 + index * 111}",
        )
        for index, name in enumerate(names)
    ]
    for country, (clearing_house, names) in _BANK_TABLE.items()
}

# What a bank login asks for, per country: (label, pattern, example).
LOGIN_FORMATS: dict[str, tuple[str, str, str]] = {
    "SE": ("Personnummer", r"^(\d{2})?\d{6}[-+]?\d{4}$", "19900101-1234"),
    "FI": ("Henkilötunnus", r"^\d{6}[-+A]\d{3}[0-9A-Z]$", "010190-123A"),
    "NO": ("Fødselsnummer", r"^\d{11}$", "01019012345"),
    "DK": ("CPR-nummer", r"^\d{6}-?\d{4}$", "010190-1234"),
    "EE": ("Isikukood", r"^\d{11}$", "39001011234"),
}
DEFAULT_LOGIN = ("Online banking user ID", r"^\S{4,}$", "user1234")


@dataclass(frozen=True)
class LoginOutcome:
    ok: bool
    message: str = ""
    abandon: bool = False  # the bank gives up: the order is cancelled


def check_login(country: str, identifier: str) -> LoginOutcome:
    """Any identifier in the country's format logs in, except the documented magic values:
    an identifier ending in ``0000`` is refused (retry possible), one ending in ``9999`` makes
    the bank time out and the order is cancelled."""
    label, pattern, example = LOGIN_FORMATS.get(country, DEFAULT_LOGIN)
    cleaned = identifier.strip()
    if not re.match(pattern, cleaned):
        return LoginOutcome(False, f"Enter a {label} like {example}.")
    if cleaned.endswith("0000"):
        return LoginOutcome(False, "The bank did not accept this login. Try again.")
    if cleaned.endswith("9999"):
        return LoginOutcome(False, "The bank did not answer in time.", abandon=True)
    return LoginOutcome(True)


def accounts_for(bank: Bank, identifier: str) -> list[tuple[str, str]]:
    """The end user's accounts at ``bank``: (account number, label), stable per identifier."""
    digest = hashlib.sha256(f"{bank.code}:{identifier.strip()}".encode()).hexdigest()
    numbers = [str(int(digest[i : i + 12], 16))[-10:].rjust(10, "0") for i in (0, 12, 24)]
    labels = ["Salary account", "Savings account", "Joint account"]
    return list(zip(numbers, labels, strict=True))


_CLEARING_HOUSES = {clearing: country for country, (clearing, _) in _BANK_TABLE.items()}
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")


def clearing_house_bank(clearing_house: str, bank_number: str, account_number: str) -> str | None:
    """The bank name RegisterAccount answers for these details, or None for an unknown house."""
    country = _CLEARING_HOUSES.get(clearing_house)
    if country is None and clearing_house != "IBAN":
        return None
    if country is None:
        country = account_number[:2].upper()
    banks = BANKS.get(country)
    if not banks:
        return "Bank"
    digest = int(hashlib.sha256(f"{bank_number}{account_number}".encode()).hexdigest(), 16)
    return banks[digest % len(banks)].name


def validate_account_number(clearing_house: str, bank_number: str, account_number: str) -> bool:
    """A format check, as RegisterAccount does (it validates format, not existence)."""
    if _IBAN.match(account_number):
        return _iban_checksum_ok(account_number)
    if clearing_house == "IBAN":
        return False
    return account_number.isdigit() and 6 <= len(account_number) <= 16


def _iban_checksum_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1
