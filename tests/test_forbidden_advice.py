"""A 403 says what to do next (stores/failures.py): a refusal that segql's read or write
role would lift advises that role; one that neither role lifts (an administrator's job:
`segql reindex` needs `manage`, `segql es api-key` needs `manage_api_key`) says so instead
of sending the user to a role that would be refused too.

The reasons are Elasticsearch 9.2.0's own, as measured on a secure managed node with keys
of the write role (docs/security.md), the read role, and a key of the write role plus
`monitor` and `delete_index`."""

from __future__ import annotations

import pytest

from segql.stores.failures import AdministrationForbiddenError, ForbiddenError, from_answer

URL = "https://127.0.0.1:9244"
KEY = "for API key id [M5r0HqIBofxufhFJ_pri] of user [segql_admin]"
ROLES = "use a user or API key with segql's read or write role (docs/security.md)"
ADMIN = ("this is an administrator's job that segql's read and write roles do not cover "
         "(`segql reindex` needs `manage` on the indices, `segql es api-key` needs "
         "`manage_api_key`; docs/security.md)")


def _refusal(reason: str) -> dict[str, object]:
    error = {"type": "security_exception", "reason": reason}
    return {"error": {"root_cause": [error], **error}, "status": 403}


@pytest.mark.parametrize(("action", "granted", "refused", "says"), [
    # a read key that tries to write: the write role would do
    ("indices:data/write/bulk[s] on indices [segql-x]",
     "index privileges [create_doc,create,delete,index,write,all]", ForbiddenError,
     f"to write index `segql-x` (403): {ROLES}"),
    ("indices:admin/create on indices [segql-x]",
     "index privileges [create_index,manage,all]", ForbiddenError,
     f"to create or change indices (403): {ROLES}"),
    ("cluster:monitor/health",
     "cluster privileges [monitor,manage,all]", ForbiddenError, f"to do this (403): {ROLES}"),
    # `segql reindex` with a write key: its first call, and a later one
    ("indices:monitor/stats on indices [segql-x]",
     "index privileges [monitor,cross_cluster_replication,manage,all]",
     AdministrationForbiddenError, f"to do this (403): {ADMIN}"),
    ("indices:admin/close on indices [segql-x-v2]",
     "index privileges [manage_follow_index,manage,all]", AdministrationForbiddenError,
     f"to create or change indices (403): {ADMIN}"),
    # `segql es api-key create` with a write key
    ("cluster:admin/xpack/security/api_key/create",
     "cluster privileges [manage_own_api_key,manage_api_key,manage_security,all]",
     AdministrationForbiddenError, f"to do this (403): {ADMIN}"),
    # no privileges named: the roles' advice
    ("indices:data/read/search", None, ForbiddenError,
     f"to read (403): {ROLES}"),
])
def test_a_refusal_advises_a_role_only_when_a_role_would_do(
        action: str, granted: str | None, refused: type[ForbiddenError], says: str) -> None:
    name, _, on = action.partition(" ")
    reason = f"action [{name}] is unauthorized {KEY}{' ' + on if on else ''}"
    if granted is not None:
        reason += f", this action is granted by the {granted}"
    found = from_answer(403, _refusal(reason), URL)
    assert type(found) is refused and found.kind == "forbidden" and found.exit_code == 1
    assert str(found) == f"Elasticsearch at {URL} does not allow these credentials {says}"
    assert "security_exception" not in str(found) and "segql_admin" not in str(found)
