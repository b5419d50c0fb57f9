"""Trustly, as the services see it: a configured SDK client, and the keys to sign replies and
verify notifications."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fintrust.settings import Settings
from fintrust.trustly import Environment, Signer, TrustlyClient, Verifier

__all__ = ["TrustlyGateway"]


@dataclass(frozen=True)
class TrustlyGateway:
    client: TrustlyClient
    signer: Signer  # signs our notification replies
    verifier: Verifier  # Trustly's key (or the emulator's)

    @classmethod
    def from_settings(cls, settings: Settings, **client_options: object) -> TrustlyGateway:
        signer = Signer.from_file(settings.trustly_private_key_file)
        environment = Environment(settings.trustly_environment)
        if settings.trustly_public_key_file is not None:
            # Several keys in one file are all trusted: Trustly rotating its key must not
            # make every notification fail verification.
            verifier = Verifier.from_pem(*_pem_blocks(settings.trustly_public_key_file.read_text()))
        else:
            verifier = Verifier.for_environment(environment)
        client = TrustlyClient(
            username=settings.trustly_username,
            password=settings.trustly_password.get_secret_value(),
            signer=signer,
            verifier=verifier,
            environment=environment,
            url=settings.trustly_api_url or environment.api_url,
            **client_options,  # type: ignore[arg-type]
        )
        return cls(client, signer, verifier)


def _pem_blocks(text: str) -> list[str]:
    """Every ``-----BEGIN ... -----END ...`` block in ``text``."""
    blocks = re.findall(r"-----BEGIN [^-]+-----.*?-----END [^-]+-----", text, flags=re.DOTALL)
    if not blocks:
        raise ValueError("no PEM public key in the Trustly public key file")
    return blocks
