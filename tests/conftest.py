"""Fixtures shared by every layer of tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fintrust.trustly import Signer, Verifier, generate_key_pair

VECTORS = Path(__file__).parent / "vectors"
"""Copy of ../shared/spec/vectors: messages signed by Trustly's TEST key and peer clients."""


def load_vector(relative: str) -> Any:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


class KeyPair:
    def __init__(self) -> None:
        self.private_pem, self.public_pem = generate_key_pair()
        self.signer = Signer.from_pem(self.private_pem)
        self.verifier = Verifier.from_pem(self.public_pem)


@pytest.fixture(scope="session")
def merchant_keys() -> KeyPair:
    """The merchant's key pair: signs requests and notification replies."""
    return KeyPair()


@pytest.fixture(scope="session")
def trustly_keys() -> KeyPair:
    """A stand-in for Trustly's key pair: signs responses and notifications in tests."""
    return KeyPair()
