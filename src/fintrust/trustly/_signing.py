"""Signing and verifying ``method + uuid + serialize(data)`` (protocol spec §3).

RSA PKCS#1 v1.5 with SHA-1 is Trustly's algorithm. Verification also accepts an
``alg=RS256;`` / ``RS384`` / ``RS512`` prefix before the Base64 signature (spec §3.6).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fintrust.trustly._keys import (
    Environment,
    load_private_key,
    load_public_key,
    trustly_public_key_pem,
)
from fintrust.trustly._serialize import serialize

__all__ = ["Signer", "Verifier", "plaintext"]

_PKCS1 = padding.PKCS1v15()
# SHA-1 is what Trustly's protocol specifies; it is not our choice to make.
_SHA1 = hashes.SHA1()  # noqa: S303
_PREFIXED_HASHES: dict[str, hashes.HashAlgorithm] = {
    "alg=RS256;": hashes.SHA256(),
    "alg=RS384;": hashes.SHA384(),
    "alg=RS512;": hashes.SHA512(),
}


def plaintext(method: str | None, uuid: str | None, data: Any) -> bytes:
    """The exact bytes that are signed: UTF-8 of ``method + uuid + serialize(data)``."""
    return f"{method or ''}{uuid or ''}{serialize(data)}".encode()


class Signer:
    """Signs messages with one RSA private key. Its ``repr`` never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._key = private_key

    @classmethod
    def from_pem(cls, pem: bytes | str, password: bytes | None = None) -> Signer:
        return cls(load_private_key(pem, password))

    @classmethod
    def from_file(cls, path: str | Path, password: bytes | None = None) -> Signer:
        return cls.from_pem(Path(path).read_bytes(), password)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def sign(self, method: str | None, uuid: str | None, data: Any) -> str:
        return self.sign_plaintext(plaintext(method, uuid, data))

    def sign_plaintext(self, text: bytes) -> str:
        signature = self._key.sign(text, _PKCS1, _SHA1)
        return base64.b64encode(signature).decode("ascii")

    def __repr__(self) -> str:
        return f"Signer(<RSA-{self._key.key_size} private key>)"


class Verifier:
    """Verifies signatures against one or more accepted public keys (for key rotation)."""

    __slots__ = ("_keys",)

    def __init__(self, public_keys: Iterable[rsa.RSAPublicKey]) -> None:
        self._keys = tuple(public_keys)
        if not self._keys:
            raise ValueError("a Verifier needs at least one public key")

    @classmethod
    def from_pem(cls, *pems: bytes | str) -> Verifier:
        return cls(load_public_key(pem) for pem in pems)

    @classmethod
    def for_environment(cls, environment: Environment) -> Verifier:
        """Trustly's bundled key for ``environment``."""
        return cls.from_pem(trustly_public_key_pem(environment))

    @property
    def public_keys(self) -> tuple[rsa.RSAPublicKey, ...]:
        return self._keys

    def verify(self, method: str | None, uuid: str | None, data: Any, signature: Any) -> bool:
        """True when ``signature`` is valid for the message under any accepted key.

        ``data`` must be the parsed JSON exactly as received, never a re-built model.
        """
        if not isinstance(signature, str) or not signature:
            return False
        return self.verify_plaintext(plaintext(method, uuid, data), signature)

    def verify_plaintext(self, text: bytes, signature: str) -> bool:
        algorithm: hashes.HashAlgorithm = _SHA1
        if signature.startswith("alg="):
            prefix, _, signature = signature.partition(";")
            prefixed = _PREFIXED_HASHES.get(prefix + ";")
            if prefixed is None:
                return False
            algorithm = prefixed
        try:
            raw = binascii.a2b_base64(signature, strict_mode=True)
        except (binascii.Error, ValueError):
            try:
                # Ruby and PHP fixtures wrap Base64 at 60 columns; whitespace carries no meaning.
                raw = base64.b64decode("".join(signature.split()), validate=True)
            except (binascii.Error, ValueError):
                return False
        for key in self._keys:
            try:
                key.verify(raw, text, _PKCS1, algorithm)
            except InvalidSignature:
                continue
            return True
        return False

    def __repr__(self) -> str:
        return f"Verifier(<{len(self._keys)} public key(s)>)"
