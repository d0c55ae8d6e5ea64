"""Every store test runs on SQLite (a temp file) and on PostgreSQL (a fresh schema per test).

PostgreSQL comes from ``SIMPLE_RISK_TEST_PG_URL`` (``eval "$(.ci/postgres.sh start)"`` sets
it). Without it the PostgreSQL cases skip on a developer's machine — but under ``CI=true``
they fail: the shared-store path must never pass CI by not running.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from simple_risk.store import Store

PG_ENV = "SIMPLE_RISK_TEST_PG_URL"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def postgres_base_url() -> str:
    """The test server's URL, or skip (fail under CI) when there is none."""
    url = os.environ.get(PG_ENV, "")
    if not url:
        if in_ci():
            pytest.fail(
                f"CI must run the PostgreSQL store tests: {PG_ENV} is not set "
                '(run `eval "$(.ci/postgres.sh start)"` before the tests)'
            )
        pytest.skip(f"{PG_ENV} is not set (start one with .ci/postgres.sh start)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A URL to an empty database of each kind, private to this test."""
    if request.param == "sqlite":
        yield f"sqlite:///{os.fspath(tmp_path)}/store.db"
        return
    base = make_url(postgres_base_url()).set(drivername="postgresql+psycopg")
    schema = f"sr_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        # Every connection of the store under test works inside the test's own schema.
        private = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield private.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def open_store(store_url: str) -> Iterator[Callable[[], Store]]:
    """Open (another) Store on the test's database; all are closed at the end."""
    opened: list[Store] = []

    def _open() -> Store:
        store = Store.open(store_url)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()
