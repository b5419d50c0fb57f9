"""Serialization and signatures: refusals, prefixes, key rotation, and Hypothesis properties."""

from __future__ import annotations

import base64
import json
import random
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fintrust.trustly import (
    KeyLoadError,
    SerializationError,
    Signer,
    Verifier,
    decode_json,
    load_private_key,
    plaintext,
    serialize,
)
from tests.conftest import KeyPair

scalars = st.text(max_size=12) | st.none() | st.integers(min_value=-(10**12), max_value=10**12)
json_data = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
objects = st.dictionaries(st.text(max_size=8), json_data, min_size=1, max_size=6)
uuids = st.uuids().map(str)
methods = st.sampled_from(["Deposit", "AccountPayout", "credit", "debit", "account"])


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ({"Amount": 12.5}, "data.Amount: floats"),
        (
            {"Attributes": {"HoldNotifications": True}},
            "data.Attributes.HoldNotifications: booleans",
        ),
        ({"list": ["a", 1.0]}, r"data.list[1]: floats"),
        ({"when": object()}, "data.when: object is not a JSON value"),
        ({1: "a"}, "object keys must be strings"),
    ],
)
def test_floats_booleans_and_non_json_are_refused_with_the_path(value: Any, complaint: str) -> None:
    with pytest.raises(SerializationError) as raised:
        serialize(value)
    assert complaint in str(raised.value)
    assert isinstance(raised.value, TypeError)


def test_decimals_keep_the_text_they_were_parsed_from() -> None:
    parsed = decode_json(b'{"amount": 902.50, "count": 7}')
    assert parsed["amount"] == Decimal("902.50")
    assert serialize(parsed) == "amount902.50count7"


def test_json_constants_that_are_not_json_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        decode_json(b'{"amount": NaN}')


def test_signature_is_pkcs1v15_sha1_over_the_plaintext(merchant_keys: KeyPair) -> None:
    data = {"Username": "merchant", "Attributes": {"Firstname": "Åsa"}}
    signature = merchant_keys.signer.sign("Deposit", "9c1d7a30-5b1e-4c8e-a0f2-3d3b1f6e2a11", data)
    expected_plaintext = (
        "Deposit9c1d7a30-5b1e-4c8e-a0f2-3d3b1f6e2a11AttributesFirstnameÅsaUsernamemerchant"
    )
    assert (
        plaintext("Deposit", "9c1d7a30-5b1e-4c8e-a0f2-3d3b1f6e2a11", data)
        == expected_plaintext.encode()
    )
    merchant_keys.signer.public_key.verify(
        base64.b64decode(signature), expected_plaintext.encode(), padding.PKCS1v15(), hashes.SHA1()
    )


@pytest.mark.parametrize(
    ("prefix", "algorithm"),
    [("alg=RS256;", hashes.SHA256), ("alg=RS384;", hashes.SHA384), ("alg=RS512;", hashes.SHA512)],
)
def test_prefixed_sha2_signatures_verify(
    merchant_keys: KeyPair, prefix: str, algorithm: type[hashes.HashAlgorithm]
) -> None:
    key = load_private_key(merchant_keys.private_pem)
    text = plaintext("credit", "u", {"amount": "1.00"})
    raw = base64.b64encode(key.sign(text, padding.PKCS1v15(), algorithm())).decode()
    assert merchant_keys.verifier.verify("credit", "u", {"amount": "1.00"}, prefix + raw)
    # The prefix names the hash: the same bytes under another prefix, or none, do not verify.
    assert not merchant_keys.verifier.verify("credit", "u", {"amount": "1.00"}, raw)
    assert not merchant_keys.verifier.verify("credit", "u", {"amount": "1.00"}, "alg=RS999;" + raw)


@pytest.mark.parametrize("signature", [None, "", "not base64!", 42, "alg=RS256"])
def test_garbage_signatures_do_not_verify(merchant_keys: KeyPair, signature: Any) -> None:
    assert not merchant_keys.verifier.verify("credit", "u", {}, signature)


def test_any_of_several_keys_verifies_for_key_rotation(
    merchant_keys: KeyPair, trustly_keys: KeyPair
) -> None:
    rotating = Verifier([merchant_keys.signer.public_key, trustly_keys.signer.public_key])
    for keys in (merchant_keys, trustly_keys):
        assert rotating.verify(
            "credit", "u", {"a": "b"}, keys.signer.sign("credit", "u", {"a": "b"})
        )
    with pytest.raises(ValueError, match="at least one"):
        Verifier([])


def test_key_material_never_shows(merchant_keys: KeyPair) -> None:
    assert "PRIVATE" not in repr(merchant_keys.signer)
    with pytest.raises(KeyLoadError) as raised:
        Signer.from_pem(merchant_keys.private_pem[:200])
    assert "MII" not in str(raised.value)
    with pytest.raises(KeyLoadError):
        Verifier.from_pem(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


@settings(max_examples=60, deadline=None)
@given(method=methods, uuid=uuids, data=objects)
def test_sign_then_verify_round_trips(
    merchant_keys: KeyPair, method: str, uuid: str, data: Any
) -> None:
    signature = merchant_keys.signer.sign(method, uuid, data)
    assert merchant_keys.verifier.verify(method, uuid, data, signature)


@settings(max_examples=60, deadline=None)
@given(data=objects, seed=st.integers(0, 2**32))
def test_key_order_in_the_json_text_never_changes_the_signature(
    merchant_keys: KeyPair, data: Any, seed: int
) -> None:
    shuffled = _shuffle_keys(data, random.Random(seed))
    assert json.loads(json.dumps(shuffled)) == data
    assert serialize(shuffled) == serialize(data)
    signature = merchant_keys.signer.sign("credit", "u", data)
    assert merchant_keys.verifier.verify(
        "credit", "u", decode_json(json.dumps(shuffled)), signature
    )


def _shuffle_keys(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffle_keys(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffle_keys(item, rng) for item in value]
    return value


def _scalar_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _scalar_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _scalar_paths(item, (*path, index))]
    return [path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@settings(max_examples=80, deadline=None)
@given(data=objects, choice=st.integers(0, 10**6), replacement=st.text(min_size=1, max_size=6))
def test_changing_any_single_scalar_breaks_the_signature(
    merchant_keys: KeyPair, data: Any, choice: int, replacement: str
) -> None:
    signature = merchant_keys.signer.sign("credit", "u", data)
    paths = _scalar_paths(data)
    assume(paths)
    path = paths[choice % len(paths)]
    old = _get(data, path)
    new = replacement if replacement != str(old if old is not None else "") else replacement + "x"
    assert not merchant_keys.verifier.verify("credit", "u", _replace(data, path, new), signature)
