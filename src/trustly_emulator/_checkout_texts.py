"""The checkout pages' words, in English and Swedish, and how a page shows money.

A key missing from a language falls back to English (``_SV`` starts from ``_EN``), so a new
text never breaks the Swedish pages, it only shows in English until translated.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

__all__ = ["Texts", "language"]

_EN: Final[dict[str, str]] = {
    "brand": "Trustly emulator",
    "test_badge": "Test",
    "close": "Close and cancel",
    "step": "Step {n} of 4",
    "kind_Deposit": "Deposit",
    "kind_Withdraw": "Withdrawal",
    "kind_SelectAccount": "Choose an account",
    "merchant": "To",
    "merchant_Withdraw": "From",
    "merchant_SelectAccount": "For",
    "amount": "Amount",
    "amount_range": "Between {low} and {high}",
    "amount_min": "At least {low}",
    "amount_max": "At most {high}",
    "amount_invalid": "Enter an amount with at most two decimals.",
    "amount_out_of_range": "Enter an amount in the allowed range.",
    "choose_bank": "Choose your bank",
    "country": "Country",
    "update": "Update",
    "bank_missing": "Choose a bank to continue.",
    "continue": "Continue",
    "options": "Set order options",
    "options_help": "Choose what happens after the checkout. Test environment only.",
    "trustly_case": "Trustly test case",
    "emulator_case": "Emulator scenario",
    "default_case": "default",
    "scenario_invalid": "Choose one of the listed test cases.",
    "login_title": "Log in to {bank}",
    "login_intro": "Identify yourself as you do in {bank}'s online bank.",
    "example": "For example {example}",
    "log_in": "Log in",
    "back": "Back",
    "test_values": "Test values",
    "test_any": "Any {label} in this format logs in.",
    "test_0000": "Ending in 0000: the bank refuses the login; you can try again.",
    "test_9999": "Ending in 9999: the bank times out and the order is cancelled.",
    "login_format": "Enter a {label} like {example}.",
    "login_refused": "The bank did not accept this login. Try again.",
    "accounts_title": "Choose account",
    "accounts_intro": "Your accounts at {bank}",
    "account_missing": "Choose an account to continue.",
    "confirm_title": "Confirm",
    "confirm_Deposit": "Pay {amount} to {merchant}",
    "confirm_Withdraw": "Receive {amount} from {merchant}",
    "confirm_SelectAccount": "Use this account with {merchant}",
    "account": "Account",
    "bank": "Bank",
    "confirm": "Confirm",
    "express_title": "Pay from {bank} {descriptor}",
    "express_intro": "Welcome back. Your last-used account is ready.",
    "use_other": "Use another account",
    "done_title": "Done",
    "done_body": "You can close this window.",
    "finished_title": "This payment is already finished",
    "finished_body": "There is nothing more to do here. You can close this window.",
    "cancelled_title": "This payment is cancelled",
    "cancelled_body": "It cannot be continued. Start again from the shop if you want to pay.",
    "timeout_title": "The bank did not answer in time",
    "timeout_body": "The payment was cancelled. You can close this window.",
    "not_found_title": "Payment not found",
    "not_found_body": "This link is not valid. Start the payment again from the shop.",
    "expired_title": "This page cannot be used",
    "expired_body": "The form was changed or belongs to another payment. "
    "Open the payment link again.",
    "no_close_title": "This payment cannot be closed here",
    "no_close_body": "The shop gave no page to return to.",
    "redirecting": "Taking you back to {merchant}…",
    "redirect_link": "Continue to {merchant}",
    "footer": "Emulated Trustly checkout · no real money moves",
    "Salary account": "Salary account",
    "Savings account": "Savings account",
    "Joint account": "Joint account",
    "Online banking user ID": "Online banking user ID",
}
_SV: Final[dict[str, str]] = {
    **_EN,
    "brand": "Trustly-emulator",
    "test_badge": "Test",
    "close": "Stäng och avbryt",
    "step": "Steg {n} av 4",
    "kind_Deposit": "Insättning",
    "kind_Withdraw": "Uttag",
    "kind_SelectAccount": "Välj konto",
    "merchant": "Till",
    "merchant_Withdraw": "Från",
    "merchant_SelectAccount": "För",
    "amount": "Belopp",
    "amount_range": "Mellan {low} och {high}",
    "amount_min": "Minst {low}",
    "amount_max": "Högst {high}",
    "amount_invalid": "Ange ett belopp med högst två decimaler.",
    "amount_out_of_range": "Ange ett belopp inom det tillåtna intervallet.",
    "choose_bank": "Välj din bank",
    "country": "Land",
    "update": "Uppdatera",
    "bank_missing": "Välj en bank för att fortsätta.",
    "continue": "Fortsätt",
    "options": "Ställ in orderalternativ",
    "options_help": "Välj vad som händer efter betalningen. Endast i testmiljön.",
    "trustly_case": "Trustlys testfall",
    "emulator_case": "Emulatorscenario",
    "default_case": "standard",
    "scenario_invalid": "Välj ett av testfallen i listan.",
    "login_title": "Logga in på {bank}",
    "login_intro": "Identifiera dig som i {bank}s internetbank.",
    "example": "Till exempel {example}",
    "log_in": "Logga in",
    "back": "Tillbaka",
    "test_values": "Testvärden",
    "test_any": "Alla {label} i detta format kan logga in.",
    "test_0000": "Slutar på 0000: banken nekar inloggningen; du kan försöka igen.",
    "test_9999": "Slutar på 9999: banken svarar inte i tid och ordern avbryts.",
    "login_format": "Ange ett {label} som {example}.",
    "login_refused": "Banken godtog inte inloggningen. Försök igen.",
    "accounts_title": "Välj konto",
    "accounts_intro": "Dina konton hos {bank}",
    "account_missing": "Välj ett konto för att fortsätta.",
    "confirm_title": "Bekräfta",
    "confirm_Deposit": "Betala {amount} till {merchant}",
    "confirm_Withdraw": "Ta emot {amount} från {merchant}",
    "confirm_SelectAccount": "Använd detta konto hos {merchant}",
    "account": "Konto",
    "bank": "Bank",
    "confirm": "Bekräfta",
    "express_title": "Betala från {bank} {descriptor}",
    "express_intro": "Välkommen tillbaka. Ditt senast använda konto är valt.",
    "use_other": "Använd ett annat konto",
    "done_title": "Klart",
    "done_body": "Du kan stänga det här fönstret.",
    "finished_title": "Den här betalningen är redan slutförd",
    "finished_body": "Det finns inget mer att göra här. Du kan stänga det här fönstret.",
    "cancelled_title": "Den här betalningen är avbruten",
    "cancelled_body": "Den kan inte fortsätta. Börja om från butiken om du vill betala.",
    "timeout_title": "Banken svarade inte i tid",
    "timeout_body": "Betalningen avbröts. Du kan stänga det här fönstret.",
    "not_found_title": "Betalningen hittades inte",
    "not_found_body": "Länken är inte giltig. Börja om betalningen från butiken.",
    "expired_title": "Sidan kan inte användas",
    "expired_body": "Formuläret har ändrats eller hör till en annan betalning. "
    "Öppna betalningslänken igen.",
    "no_close_title": "Betalningen kan inte stängas här",
    "no_close_body": "Butiken angav ingen sida att återvända till.",
    "redirecting": "Du skickas tillbaka till {merchant}…",
    "redirect_link": "Fortsätt till {merchant}",
    "footer": "Emulerad Trustly-betalning · inga riktiga pengar flyttas",
    "Salary account": "Lönekonto",
    "Savings account": "Sparkonto",
    "Joint account": "Gemensamt konto",
    "Online banking user ID": "Användar-ID för internetbanken",
}
_TEXTS: Final[dict[str, dict[str, str]]] = {"en": _EN, "sv": _SV}

_COUNTRY_NAMES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "SE": "Sweden", "FI": "Finland", "NO": "Norway", "DK": "Denmark", "DE": "Germany",
        "NL": "Netherlands", "EE": "Estonia", "GB": "United Kingdom", "ES": "Spain",
        "PL": "Poland",
    },
    "sv": {
        "SE": "Sverige", "FI": "Finland", "NO": "Norge", "DK": "Danmark", "DE": "Tyskland",
        "NL": "Nederländerna", "EE": "Estland", "GB": "Storbritannien", "ES": "Spanien",
        "PL": "Polen",
    },
}  # fmt: skip


def language(locale: str | None) -> str:
    """The page language for an order's ``Locale`` (``sv``, ``sv_SE``, ... → Swedish)."""
    return "sv" if (locale or "").lower().startswith("sv") else "en"


class Texts:
    """One page language: ``t("key", name=value)`` is that text with the values filled in."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._table = _TEXTS[lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self._table[key]
        return text.format(**values) if values else text

    def translated(self, text: str) -> str:
        """``text`` in this language when it is one of ours, else as it is.

        ``_banks`` names logins and accounts in English ("Salary account") or in the bank
        country's own word ("Personnummer"): only the English ones have translations here.
        """
        return self._table.get(text, text)

    def country(self, code: str) -> str:
        return _COUNTRY_NAMES[self.lang][code]

    def money(self, amount: Decimal, currency: str) -> str:
        text = f"{amount:,.2f}"
        if self.lang == "sv":  # 1 234,50
            text = text.replace(",", "\u00a0").replace(".", ",")
        return f"{text}\u00a0{currency}"
