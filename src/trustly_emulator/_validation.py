"""Checks on request parameters, each failing with the error code Trustly uses for it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Params", "RpcError"]

# Currencies Trustly settles in (its markets); anything else gets 622.
CURRENCIES = frozenset(
    {"EUR", "SEK", "NOK", "DKK", "GBP", "PLN", "CZK", "HUF", "CHF", "RON", "BGN", "USD"}
)
COUNTRIES = frozenset(
    {
        "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HR",
        "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE",
        "SI", "SK", "US",
    }
)  # fmt: skip
_AMOUNT = re.compile(r"\A[0-9]{1,12}\.[0-9]{2}\Z")
_LOCALE = re.compile(r"\A[a-z]{2}(_[A-Z]{2})?\Z")
_EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_ID_TEXT = re.compile(r"\A[\x21-\x7e]{1,128}\Z")  # printable ASCII, no spaces


class RpcError(Exception):
    """A JSON-RPC error answer: Trustly's code and name, with our detail for the inspector."""

    def __init__(self, code: int, name: str, detail: str = "") -> None:
        super().__init__(f"{code} {name}: {detail}" if detail else f"{code} {name}")
        self.code, self.name, self.detail = code, name, detail


def invalid(detail: str) -> RpcError:
    return RpcError(623, "ERROR_INVALID_PARAMETERS", detail)


class Params:
    """Typed reads of one request's ``Data`` (and its ``Attributes``)."""

    def __init__(self, data: Mapping[str, Any], *, require_tls: bool) -> None:
        self.data = data
        attributes = data.get("Attributes")
        if attributes is not None and not isinstance(attributes, Mapping):
            raise invalid("Attributes must be an object or null")
        self.attributes: Mapping[str, Any] = attributes or {}
        self.require_tls = require_tls

    def text(self, key: str, *, required: bool = True, attribute: bool = False) -> str | None:
        source = self.attributes if attribute else self.data
        value = source.get(key)
        if value is None or value == "":
            if required:
                raise invalid(f"{key} is required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise invalid(f"{key} must be a string")
        return str(value)

    def required_text(self, key: str, *, attribute: bool = False) -> str:
        value = self.text(key, attribute=attribute)
        assert value is not None  # required=True raised otherwise
        return value

    def end_user_id(self) -> str:
        value = self.data.get("EndUserID")
        if value is None or value == "":
            raise RpcError(696, "ERROR_ENDUSERID_IS_NULL")
        if not isinstance(value, str) or len(value) > 255 or not value.strip():
            raise RpcError(706, "ERROR_MALFORMED_ENDUSERID")
        return value

    def message_id(self) -> str:
        value = self.data.get("MessageID")
        if value is None or value == "":
            raise RpcError(697, "ERROR_MESSAGEID_IS_NULL")
        if not isinstance(value, str) or not _ID_TEXT.match(value):
            raise RpcError(704, "ERROR_MALFORMED_MESSAGEID")
        return value

    def notification_url(self) -> str:
        value = self.data.get("NotificationURL")
        if not isinstance(value, str) or not _is_url(value) or "?" in value:
            raise RpcError(705, "ERROR_MALFORMED_NOTIFICATIONURL", "a valid URL without '?'")
        if self.require_tls and urlsplit(value).scheme != "https":
            raise RpcError(734, "ERROR_NOT_SECURE_NOTIFICATIONURL")
        return value

    def currency(self, *, attribute: bool = False) -> str:
        value = (self.attributes if attribute else self.data).get("Currency")
        if not isinstance(value, str) or value not in CURRENCIES:
            raise RpcError(622, "ERROR_INVALID_CURRENCY_CODE")
        return value

    def amount(
        self, key: str = "Amount", *, attribute: bool = False, required: bool = True
    ) -> Decimal | None:
        value = (self.attributes if attribute else self.data).get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not _AMOUNT.match(value) or Decimal(value) <= 0:
            raise RpcError(615, "ERROR_INVALID_AMOUNT", f"{key} must be > 0 with two decimals")
        return Decimal(value)

    def checkout_attributes(self) -> None:
        """The attribute formats shared by Deposit, Withdraw and SelectAccount."""
        get = self.attributes.get
        country = get("Country")
        if not isinstance(country, str) or country not in COUNTRIES:
            raise RpcError(737, "ERROR_INVALID_COUNTRY")
        locale = get("Locale")
        if not isinstance(locale, str) or not _LOCALE.match(locale):
            raise RpcError(645, "ERROR_INVALID_LOCALE")
        for key, code, name in (
            ("SuccessURL", 700, "ERROR_MALFORMED_SUCCESSURL"),
            ("FailURL", 701, "ERROR_MALFORMED_FAILURL"),
            ("TemplateURL", 702, "ERROR_MALFORMED_TEMPLATEURL"),
        ):
            if get(key) is not None and not (isinstance(get(key), str) and _is_url(get(key))):
                raise RpcError(code, name)
        if get("URLTarget") not in (None, "_top", "_self", "_parent"):
            raise RpcError(703, "ERROR_MALFORMED_URLTARGET")
        if get("IP") is not None and not _is_ip(get("IP")):
            raise RpcError(698, "ERROR_INVALID_IP")
        email = get("Email")
        if email is not None and not (isinstance(email, str) and _EMAIL.match(email)):
            raise RpcError(642, "ERROR_INVALID_EMAIL")

    def date(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not _DATE.match(value):
            raise invalid(f"{key} must be a YYYY-MM-DD date")
        return value


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
