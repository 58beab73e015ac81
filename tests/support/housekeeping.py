"""The tests' own housekeeping on the cluster: deleting the indices a test made, changing
an index's settings to stage a case. None of it is something segql does for a user.

In CI's second run (scripts/test) the suite talks to a secure node with an API key of
segql's write role, which by design may not delete indices or change their settings; the
housekeeping then runs as that node's superuser (`$SEGQL_TEST_SECURE_NODE`), while
everything segql does still runs with the key. Elsewhere it is the test's own client.
A client of another cluster than that node fails at once: its housekeeping would go to
the wrong cluster (`$SEGQL_TEST_SECURE_NODE` left set with another `$ELASTICSEARCH_URL`).
"""

from __future__ import annotations

import functools
import os

from elasticsearch import Elasticsearch

from segql.localnode import LocalNode
from segql.stores.failures import url_of

SECURE_NODE_ENV = "SEGQL_TEST_SECURE_NODE"


@functools.cache
def _superuser(name: str) -> Elasticsearch:
    node = LocalNode(name)
    url = node.url
    assert url is not None, f"{SECURE_NODE_ENV}={name}: that node is not running"
    return Elasticsearch(url, ca_certs=str(node.ca_cert_file), basic_auth=node.credentials(),
                         request_timeout=60)


def admin(es: Elasticsearch) -> Elasticsearch:
    """The client for housekeeping: the secure node's superuser in CI's API-key run,
    else `es` itself."""
    name = os.environ.get(SECURE_NODE_ENV, "").strip()
    if not name:
        return es
    keeper = _superuser(name)
    assert url_of(es) == url_of(keeper), (
        f"{SECURE_NODE_ENV}={name} is {url_of(keeper)}, the tests' node {url_of(es)}: "
        "unset it or point ELASTICSEARCH_URL at that node")
    return keeper
