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


# ---------------------------------------------------------------- databases

import os  # noqa: E402 - the database fixtures are a section of their own
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

from sqlalchemy import Engine, text  # noqa: E402

from fintrust.adapters.db.engine import make_engine  # noqa: E402
from fintrust.adapters.db.migrate import upgrade  # noqa: E402
from tests.e2e.harness import World, build_world  # noqa: E402

POSTGRES_URL = os.environ.get("FINTRUST_TEST_DATABASE_URL")
_SCHEMAS: dict[int, str] = {}  # engine -> its private test schema


def _postgres_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail("FINTRUST_TEST_DATABASE_URL is not set: CI must run the PostgreSQL tests")
    pytest.skip("set FINTRUST_TEST_DATABASE_URL to run the PostgreSQL tests too")


def fresh_postgres() -> Engine:
    """A new, migrated schema of its own: tests (and test runs) never see each other's rows."""
    url = _postgres_or_skip()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    creator = make_engine(url)
    with creator.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    creator.dispose()
    engine = make_engine(url, connect_args={"options": f"-c search_path={schema}"})
    _SCHEMAS[id(engine)] = schema
    upgrade(engine)
    return engine


def drop(engine: Engine) -> None:
    schema = _SCHEMAS.pop(id(engine), None)
    engine.dispose()
    if schema:
        cleaner = make_engine(engine.url.render_as_string(hide_password=False))
        with cleaner.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        cleaner.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: _Path) -> Iterator[Engine]:
    """A migrated, empty database: SQLite always, PostgreSQL when configured (CI: always)."""
    if request.param == "sqlite":
        created = make_engine(f"sqlite:///{tmp_path / 'fintrust.sqlite3'}")
        upgrade(created)
    else:
        created = fresh_postgres()
    yield created
    drop(created)


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    created = fresh_postgres()
    yield created
    drop(created)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # what the apps under test run on (uvicorn)


@pytest.fixture
def world(engine: Engine, tmp_path: _Path) -> Iterator[World]:
    """The merchant app against the emulator, in this process (tests/e2e/harness.py)."""
    created = build_world(engine, tmp_path)
    yield created
    created.close()
