"""RSA keys: Trustly's bundled public keys, and loading or generating a merchant's key pair."""

from __future__ import annotations

import enum
import os
from importlib import resources
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fintrust.trustly._errors import KeyLoadError

__all__ = [
    "Environment",
    "generate_key_pair",
    "load_private_key",
    "load_public_key",
    "trustly_public_key_pem",
    "write_key_pair",
]


class Environment(enum.Enum):
    """Trustly's two environments; each has its own API URL and its own signing key."""

    TEST = "test"
    LIVE = "live"

    @property
    def api_url(self) -> str:
        return _API_URLS[self]


_API_URLS = {
    Environment.TEST: "https://test.trustly.com/api/1",
    Environment.LIVE: "https://api.trustly.com/1",
}
_KEY_FILES = {
    Environment.TEST: "trustly_test_public.pem",
    Environment.LIVE: "trustly_live_public.pem",
}


def trustly_public_key_pem(environment: Environment) -> bytes:
    """The PEM of the key Trustly signs with in ``environment`` (bundled with the SDK)."""
    return (resources.files("fintrust.trustly") / "keys" / _KEY_FILES[environment]).read_bytes()


def load_public_key(pem: bytes | str) -> rsa.RSAPublicKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(
            "not a PEM public key: expected '-----BEGIN PUBLIC KEY-----' (SubjectPublicKeyInfo)"
        ) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyLoadError("Trustly signatures use RSA; this public key is not an RSA key")
    return key


def load_private_key(pem: bytes | str, password: bytes | None = None) -> rsa.RSAPrivateKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The original message can quote parts of the input; never let key material reach a log.
        raise KeyLoadError(
            "not a readable PEM private key (wrong file, or a wrong or missing passphrase)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyLoadError("Trustly signatures use RSA; this private key is not an RSA key")
    return key


def generate_key_pair(bits: int = 2048) -> tuple[bytes, bytes]:
    """A new RSA key pair as (private PEM in PKCS#8, public PEM), as Trustly asks for."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def write_key_pair(private_path: Path, public_path: Path, bits: int = 2048) -> bytes:
    """Write a new key pair; the private key file is created with mode 0600 and never widened.

    Refuses to overwrite either file. Returns the public PEM.
    """
    private_pem, public_pem = generate_key_pair(bits)
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} already exists; refusing to overwrite a key")
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem)
    return public_pem
