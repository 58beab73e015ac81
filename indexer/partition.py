"""The initial load's partitioning (`Run._load` in `run.py`): a whole input split by
contact into partition files on disk, so that a partition, held in memory alone, has every
record of its contacts whatever the stream's order, and `Indexer.load` writes each contact
once. A partition file holds `line number TAB raw line` rows."""

from __future__ import annotations

import os
import zlib

import orjson

from segql.contract.document import document_id
from segql.indexer.batch import Line, contact_key, parse_line
from segql.stores.checkpoints import Input

#: The initial load splits its input into partitions of about this many bytes (one is
#: held in memory at a time) ...
PARTITION_BYTES = 32 << 20
#: ... and into at most this many (open files); DEFAULT_LOAD_BYTES when the size is unknown
#: (gzip, stdin).
MAX_PARTITIONS = 512
DEFAULT_LOAD_BYTES = 2 << 30


def partition(source: Input, folder: str, partition_bytes: int
              ) -> tuple[list[str], list[Line], int]:
    """The rest of the input split by contact into partition files in `folder`
    (`line number TAB raw line`); returns their paths, the lines that name no contact
    (not JSON, or no valid key), which go to the rejects, and how many lines the
    partitions hold."""
    size = source.size()
    parts = max(1, min(MAX_PARTITIONS,
                       -(-(size or DEFAULT_LOAD_BYTES) // partition_bytes)))
    paths = [os.path.join(folder, f"{number:04d}") for number in range(parts)]
    unkeyed: list[Line] = []
    kept = 0
    outs = [open(path, "wb", buffering=1 << 18) for path in paths]  # noqa: SIM115
    try:
        while (raw := source.read_line(False)) is not None:
            try:  # only its contact is needed here: orjson reads that as `json` does
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                record = parse_line(source.line, raw)
            key = contact_key(record)
            if key is not None:
                part = zlib.crc32(document_id(*key).encode()) % parts
                outs[part].write(b"%d\t%s\n" % (source.line, raw.rstrip(b"\r\n")))
                kept += 1
            elif (record := parse_line(source.line, raw)) is not None:  # as `json` reads it
                unkeyed.append(Line(source.line, record))
    finally:
        for out in outs:
            out.close()
    return paths, unkeyed, kept


def read_partition(path: str) -> list[Line]:
    """The lines of a partition file, parsed again (the records as `json` reads them:
    `batch.parse_line`)."""
    with open(path, "rb") as part_file:
        return [Line(int(number), parse_line(int(number), raw))
                for number, raw in (row.split(b"\t", 1) for row in part_file)]
