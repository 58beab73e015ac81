"""The one exception type of the managed local node: `LocalNodeError`, a runtime failure
(download, Java, start, stop, security setup) whose message is meant for a human. It is a
`segql.errors.SegqlError` with the default exit code 1, and still a `RuntimeError` for
callers that catch that."""

from __future__ import annotations

from segql.errors import SegqlError


class LocalNodeError(SegqlError, RuntimeError):
    """A managed-node failure, with a message meant for a human (no traceback)."""
