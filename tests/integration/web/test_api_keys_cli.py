"""``fintrust api-keys``: create prints the key once, list never shows it, revoke refuses it."""

from __future__ import annotations

from functools import partial

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.cli import main
from fintrust.services.api_keys import ApiKeyError, verify_api_key


def cli_url(engine: Engine) -> str:
    """The test database as the command line reaches it (PostgreSQL: the test's own schema)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def test_create_list_and_revoke(engine: Engine) -> None:
    url = cli_url(engine)
    runner = CliRunner()
    created = runner.invoke(main, ["api-keys", "create", "ci deploys", "--database-url", url])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("ftk_")
    assert "shown only now" in created.stderr
    uow = partial(SqlUnitOfWork, engine)
    assert verify_api_key(uow, key).name == "ci deploys"
    listed = runner.invoke(main, ["api-keys", "list", "--database-url", url])
    assert listed.exit_code == 0
    assert "ci deploys" in listed.stdout
    assert key not in listed.output
    revoked = runner.invoke(main, ["api-keys", "revoke", "1", "--database-url", url])
    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(ApiKeyError, match="revoked"):
        verify_api_key(uow, key)
    again = runner.invoke(main, ["api-keys", "revoke", "1", "--database-url", url])
    assert again.exit_code == 1
    assert "revoked before" in again.output
    blank = runner.invoke(main, ["api-keys", "create", " ", "--database-url", url])
    assert blank.exit_code == 2
    beyond = runner.invoke(main, ["api-keys", "revoke", "2147483648", "--database-url", url])
    assert beyond.exit_code == 2  # a usage error, not the database's (PostgreSQL: INTEGER ids)
    assert "1<=x<=2147483647" in beyond.output


def test_a_database_without_the_schema_gets_a_hint(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/empty.sqlite3"
    result = CliRunner().invoke(main, ["api-keys", "create", "x", "--database-url", url])
    assert result.exit_code == 1
    assert "fintrust db upgrade" in result.output
