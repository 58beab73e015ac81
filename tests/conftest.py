"""Shared fixtures: a real Elasticsearch node and throwaway indices.

The node is `$ELASTICSEARCH_URL` when set, else a managed local node started on a free
port for this session (and stopped after it). Without a node, tests that need one fail —
never skip — so a green run always means Elasticsearch answered.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql.localnode import LocalNode, LocalNodeError, free_port
from segql.stores.connection import connect
from segql.userconfig import CONFIG_ENV

#: The builder page's fixtures (`demo_site`, `chromium`, `page`): tests/support/browser.py.
pytest_plugins = ["browser"]

#: The fixtures that reach the node: a test using one is an integration test.
NODE_FIXTURES = frozenset({"es", "es_url", "index_name"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the node is marked `es`, whether its module says so or not, so
    `pytest -m es` is the whole integration suite (CI's API-key run, scripts/test)."""
    for item in items:
        if NODE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.es)


@pytest.fixture(scope="session", autouse=True)
def no_user_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The developer's own configuration file (`segql demo` writes one) never reaches a
    test: `$SEGQL_CONFIG` names a file that does not exist, for this process and every
    subprocess (they inherit the environment). A test that wants a file writes one and
    sets `$SEGQL_CONFIG` itself."""
    path = tmp_path_factory.mktemp("userconfig") / "absent.toml"
    previous = os.environ.get(CONFIG_ENV)
    os.environ[CONFIG_ENV] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(CONFIG_ENV, None)
        else:
            os.environ[CONFIG_ENV] = previous


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    url = os.environ.get("ELASTICSEARCH_URL")
    if url:
        yield url
        return
    node = LocalNode(name=f"pytest-{os.getpid()}")
    try:
        started = node.up(port=free_port(), heap="1g")
    except LocalNodeError as error:
        pytest.fail(f"no Elasticsearch for the tests: {error}", pytrace=False)
    os.environ["ELASTICSEARCH_URL"] = started
    try:
        yield started
    finally:
        os.environ.pop("ELASTICSEARCH_URL", None)
        node.remove()


@pytest.fixture(scope="session")
def es(es_url: str) -> Elasticsearch:
    client = connect(es_url)
    health = client.cluster.health(wait_for_status="yellow", timeout="60s")
    assert health["status"] in ("yellow", "green")
    return client


@pytest.fixture
def index_name(es: Elasticsearch) -> Iterator[str]:
    """A unique, empty index name for one test; deleted afterwards."""
    name = f"segql-test-{uuid.uuid4().hex[:12]}"
    yield name
    admin(es).options(ignore_status=404).indices.delete(index=f"{name},{name}-catalog",
                                                 ignore_unavailable=True)
