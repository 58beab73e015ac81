"""Positions in record inputs: reading lines with their byte offsets (following a growing
file like `tail -F`), and the checkpoints that remember how far an input was applied, so
that a restarted indexer resumes exactly there.

A checkpoint is one document in the index `<contact index>-checkpoints` (beside the data it
describes, so it is as durable as the contacts and needs no writable input directory). Its
`_id` is a hash of the input's absolute path and identity — device, inode and the hash of
its first line — so a file rotated or replaced at the same path is a new input, read from
its start, while a file that only grew keeps its checkpoint. Standard input has no
identity and is never resumed.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, cast

from elasticsearch import Elasticsearch

from segql.errors import InputError
from segql.stores.index_settings import Replicas, store_index_settings
from segql.stores.mapping import create_index_once

CHECKPOINT_SUFFIX = "-checkpoints"
#: The first line of an input, up to this many bytes, is part of its identity.
FIRST_LINE_BYTES = 4096


#: A stored document's `_seq_no` and `_primary_term` (optimistic concurrency).
Version = tuple[int, int]


def checkpoint_index_name(contact_index: str) -> str:
    return contact_index + CHECKPOINT_SUFFIX


@dataclass
class Checkpoint:
    """How far one input was applied: everything before `offset` (a line boundary) is in
    the index, and its rejects fill the rejects file up to `rejects_offset`."""

    offset: int = 0
    line: int = 0
    rejects_path: str = ""
    rejects_offset: int = 0
    #: Running totals of the input (records, applied, unchanged, rejected, retried).
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"offset": self.offset, "line": self.line, "rejects_path": self.rejects_path,
                "rejects_offset": self.rejects_offset, "counts": self.counts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(offset=data["offset"], line=data["line"],
                   rejects_path=data.get("rejects_path", ""),
                   rejects_offset=data.get("rejects_offset", 0),
                   counts=dict(data.get("counts", {})))


class Input:
    """One record input: a file (gzip by suffix) or `-` for standard input, read line by
    line with the byte offset after each line. With `follow`, a line without its newline
    is not read yet (its writer is still writing it)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.line = 0
        #: The first line once read: if it changes, the file was rewritten in place.
        self._head: bytes | None = None
        self._raw: IO[bytes] = sys.stdin.buffer
        self._stream: IO[bytes] = sys.stdin.buffer
        if path != "-":
            self._open()

    @property
    def resumable(self) -> bool:
        return self.path != "-"

    @property
    def compressed(self) -> bool:
        return self.path.endswith(".gz")

    def _open(self) -> None:
        try:
            self._raw = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        except OSError as error:
            raise InputError(f"{self.path}: {error.strerror or error}") from None
        self._stream = (
            cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb")) if self.compressed
            else self._raw
        )
        self.offset = self.line = 0
        self._head = None

    def close(self) -> None:
        if self.path != "-":
            self._stream.close()
            self._raw.close()

    def size(self) -> int | None:
        """Bytes of the input as read (None when unknown: stdin, gzip)."""
        if self.path == "-" or self.compressed:
            return None
        return os.fstat(self._raw.fileno()).st_size

    def stored_position(self) -> tuple[int, int | None]:
        """How far the input is read and its size, in bytes as stored — for gzip the
        compressed ones (read ahead by a buffer at most) — for a progress display; the
        size is None for stdin."""
        if self.path == "-":
            return self.offset, None
        size = os.fstat(self._raw.fileno()).st_size
        if not self.compressed:
            return self.offset, size
        return os.lseek(self._raw.fileno(), 0, os.SEEK_CUR), size

    def _first_line(self) -> bytes:
        return os.pread(self._raw.fileno(), FIRST_LINE_BYTES, 0).split(b"\n", 1)[0]

    def identity(self) -> str:
        """What tells this input apart from another file at the same path."""
        stat = os.fstat(self._raw.fileno())
        head = hashlib.sha256(self._first_line()).hexdigest()
        return f"{stat.st_dev}:{stat.st_ino}:{head}"

    def checkpoint_id(self) -> str:
        text = f"{os.path.abspath(self.path)}\0{self.identity()}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    def seek(self, offset: int, line: int) -> None:
        """Continue after the first `offset` bytes (`line` lines)."""
        try:
            self._stream.seek(offset)
        except (OSError, EOFError) as error:
            raise InputError(f"{self.path}: cannot resume at byte {offset}: {error}") from None
        self.offset, self.line = offset, line

    def read_line(self, follow: bool) -> bytes | None:
        """The next line (with its newline), or None at the end for now."""
        try:
            raw = self._stream.readline()
        except (OSError, EOFError) as error:
            raise InputError(f"{self.path}: {error}") from None
        if not raw:
            return None
        if follow and not raw.endswith(b"\n"):
            self._stream.seek(self.offset)  # half-written: read it again when complete
            return None
        self.offset += len(raw)
        self.line += 1
        if self.line == 1 and not self.compressed and self.path != "-":
            self._head = self._first_line()
        return raw

    def replaced(self) -> bool:
        """Whether the path now names another file (rotation), or this file shrank below
        what was read or got another first line (truncated and rewritten): then reading
        starts over with `reopen`."""
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            return False  # rotated away, the new file is not there yet: keep waiting
        mine = os.fstat(self._raw.fileno())
        return ((at_path.st_dev, at_path.st_ino) != (mine.st_dev, mine.st_ino)
                or mine.st_size < self.offset
                or (self._head is not None and self._first_line() != self._head))

    def reopen(self) -> None:
        self.close()
        self._open()


class CheckpointStore:
    """Checkpoints of the inputs of one contact index."""

    def __init__(self, es: Elasticsearch, contact_index: str,
                 replicas: Replicas | None = None) -> None:
        self.es = es
        self.index = checkpoint_index_name(contact_index)
        self.replicas = replicas  # of the index when this store creates it
        self._ready = False

    def read(self, checkpoint_id: str) -> Checkpoint | None:
        found = self.es.options(ignore_status=404).get(index=self.index, id=checkpoint_id)
        return Checkpoint.from_json(found["_source"]) if found.get("found") else None

    def write(self, checkpoint_id: str, path: str, checkpoint: Checkpoint) -> None:
        self._ensure_index()
        self.es.index(index=self.index, id=checkpoint_id, document={
            "path": os.path.abspath(path), "updated": datetime.now(UTC).isoformat(),
            **checkpoint.to_json(),
        })

    # -- other progress kept beside the input checkpoints (`segql reindex`'s) -----------

    def read_state(self, key: str) -> tuple[dict[str, Any], Version] | None:
        """The state stored under `key` and its version, or None."""
        found = self.es.options(ignore_status=404).get(index=self.index, id=key)
        if not found.get("found"):
            return None
        return found["_source"]["state"], (found["_seq_no"], found["_primary_term"])

    def write_state(self, key: str, state: dict[str, Any], version: Version | None
                    ) -> Version:
        """Store `state` under `key` if it is still at `version` (None: if there is
        none yet); Elasticsearch's ConflictError otherwise. Its new version."""
        self._ensure_index()
        guard: dict[str, Any] = ({"op_type": "create"} if version is None else
                                 {"if_seq_no": version[0], "if_primary_term": version[1]})
        reply = self.es.index(index=self.index, id=key, refresh=False, document={
            "path": key, "updated": datetime.now(UTC).isoformat(), "state": state}, **guard)
        return reply["_seq_no"], reply["_primary_term"]

    def delete_state(self, key: str) -> None:
        self.es.options(ignore_status=404).delete(index=self.index, id=key)

    def _ensure_index(self) -> None:
        if not self._ready:
            create_index_once(self.es, self.index, {
                "settings": store_index_settings(self.replicas),
                "mappings": {"dynamic": False, "properties": {
                    "path": {"type": "keyword"}, "updated": {"type": "date"}}},
            })
            self._ready = True
