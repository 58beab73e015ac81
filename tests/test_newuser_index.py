"""`segql index` as a new user meets it (issue 14, items 6 and 8): a summary on stderr at
the end of every run, terminal or not — records read, applied, contacts written,
duplicates skipped, rejected with the rejects file and the top reasons, elapsed — exit code
4 when records were rejected, and progress named by phase that reaches 100% in every phase:
plain lines when stderr is not a terminal, `rich` bars on one (a pseudo-terminal here)."""

from __future__ import annotations

import fcntl
import gzip
import io
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql import sample
from segql.cli.index_commands import EXIT_REJECTED, TOP_REASONS
from segql.indexer.progress import (
    Count,
    Display,
    Phase,
    PlainLines,
    Progress,
    TerminalBars,
)
from segql.indexer.rejects import reason_kind
from segql.stores.checkpoints import checkpoint_index_name

SEGQL = str(Path(sys.executable).with_name("segql"))

GOOD = [
    {"type": "contact", "account": "acme", "id": "c1", "email": "ala@example.pl"},
    {"type": "contact", "account": "acme", "id": "c2", "fields": {"city": "Gdańsk"}},
    {"type": "event", "account": "acme", "contact": "c1", "id": "e1", "name": "MailOpen",
     "ts": "2025-01-01T10:00:00Z"},
    {"type": "event", "account": "acme", "contact": "c1", "id": "e1", "name": "MailOpen",
     "ts": "2025-01-01T10:00:00Z"},  # delivered twice: a duplicate, skipped
    {"type": "visit", "account": "acme", "contact": "c2", "id": "v1",
     "ts": "2025-01-02T10:00:00Z"},
    {"type": "contact", "account": "acme", "id": "c3"},
    {"type": "delete", "account": "acme", "id": "c3"},
]
#: Eleven lines a feed gets wrong, each with the reason its reject must give.
BAD = [
    ("not json", "not valid JSON"),
    ('{"type": "contakt", "account": "acme", "id": "c4"}', "`type` must be one of"),
    ('{"type": "event", "account": "acme", "contact": "c1", "id": "e2", "name": "Open", '
     '"ts": "yesterday"}', "`ts` is not an ISO 8601 date or instant"),
    ('{"type": "event", "account": "acme", "contact": "c1", "id": "e3", "name": "Open", '
     '"ts": "2025-13-01"}', "`ts` is not an ISO 8601 date or instant"),
    ('{"type": "contact", "account": "ac me", "id": "c5"}', "`account` must be"),
    ("[1, 2]", "a record must be a JSON object"),
    ('{"type": "contact", "account": "acme", "id": ""}', "`id` must be a non-empty string"),
    ('{"type": "contact", "account": "acme", "id": "c6", "fields": {"x": {"y": 1}}}',
     "nested objects"),
    ('{"type": "contact", "account": "acme", "id": "c7", "fields": "nope"}',
     "`fields` must be an object"),
    ('{"bad json', "not valid JSON"),
    ('{"type": "contact", "account": "acme"}', "`id` must be a non-empty string"),
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def index(es: Elasticsearch, index_name: str) -> Iterator[str]:
    yield index_name
    admin(es).options(ignore_status=404).indices.delete(index=checkpoint_index_name(index_name))


def _index(*args: str) -> subprocess.CompletedProcess[str]:
    """`segql index` with stdout and stderr piped: stderr is not a terminal."""
    return subprocess.run([SEGQL, "index", *args], capture_output=True, text=True,
                          timeout=300, env=os.environ.copy())


def _eighteen_lines(tmp_path: Path) -> Path:
    """18 records, 11 of them bad, mixed in."""
    lines = [json.dumps(record) for record in GOOD]
    for position, (line, _) in enumerate(BAD):
        lines.insert(1 + position * 3 // 2, line)
    assert len(lines) == 18
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _sample(tmp_path: Path, contacts: int, name: str) -> tuple[Path, int]:
    """The sample stream of this many contacts (plain or gzip by `name`), and its lines."""
    lines = [sample.dumps(record) for record in sample.generate(contacts=contacts, seed=5)]
    data = ("\n".join(lines) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path, len(lines)


# -- the summary and the exit code -------------------------------------------------------


@pytest.mark.parametrize("how", [[], ["--incremental"], ["--dry-run"]],
                         ids=["initial load", "incremental", "dry run"])
def test_rejected_records_exit_4_with_a_summary_naming_the_file_and_reasons(
    index: str, tmp_path: Path, how: list[str],
) -> None:
    feed = _eighteen_lines(tmp_path)
    rejects = tmp_path / "rejected.jsonl"
    done = _index(str(feed), "--index", index, "--rejects", str(rejects), *how)
    assert done.returncode == EXIT_REJECTED == 4, done.stderr
    assert json.loads(done.stdout)["rejected"] == 11
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert len(written) == 11 and {r["file"] for r in written} == {str(feed)}
    for reject in written:  # each bad line with its own reason
        line = feed.read_text().splitlines()[reject["line"] - 1]
        assert any(line == bad and reason in reject["reason"] for bad, reason in BAD), reject
    err = done.stderr
    assert "18 records read" in err and "11 rejected" in err, err
    assert f"the 11 rejected records are in {rejects}, by reason:" in err, err
    if how != ["--dry-run"]:
        assert ("6 applied (2 contacts written, 0 deleted), 1 duplicates skipped" in err), err
    assert re.search(r"segql index(?: --dry-run)?: (finished|checked) in \d+:\d\d: ", err), err
    by_reason = Counter(reason_kind(r["reason"]) for r in written)
    assert by_reason["`ts` is not an ISO 8601 date or instant: …"] == 2
    top = by_reason.most_common(TOP_REASONS)
    for reason, count in top:
        assert f"    {count}  {reason}\n" in err, (reason, err)
    rest = sum(by_reason.values()) - sum(count for _, count in top)
    assert f"and {len(by_reason) - len(top)} other reasons ({rest} records)" in err, err


@pytest.mark.parametrize("how", [[], ["--incremental"], ["--dry-run"]],
                         ids=["initial load", "incremental", "dry run"])
def test_an_all_good_file_exits_0_with_a_summary(index: str, tmp_path: Path,
                                                 how: list[str]) -> None:
    feed = tmp_path / "good.jsonl"
    feed.write_text("".join(json.dumps(record) + "\n" for record in GOOD))
    rejects = tmp_path / "rejected.jsonl"
    done = _index(str(feed), "--index", index, "--rejects", str(rejects), *how)
    assert done.returncode == 0, done.stderr
    assert "7 records read" in done.stderr and "0 rejected" in done.stderr, done.stderr
    assert "rejected records are in" not in done.stderr and not rejects.exists()
    if how != ["--dry-run"]:
        assert "6 applied (2 contacts written, 0 deleted), 1 duplicates skipped" in done.stderr


def test_a_resumed_run_counts_the_rejects_of_the_earlier_one(index: str,
                                                             tmp_path: Path) -> None:
    feed = _eighteen_lines(tmp_path)
    rejects = tmp_path / "rejected.jsonl"
    assert _index(str(feed), "--index", index, "--rejects", str(rejects)).returncode == 4
    with feed.open("a") as out:  # the file grows by one good record and one bad
        out.write(json.dumps({"type": "contact", "account": "acme", "id": "c9"}) + "\n")
        out.write("{oops\n")
    done = _index(str(feed), "--index", index, "--rejects", str(rejects))
    assert done.returncode == EXIT_REJECTED, done.stderr
    assert "20 records read (counting 18 lines applied by an earlier run)" in done.stderr
    assert (f"the 12 rejected records are in {rejects} (11 of them from an earlier run), "
            "by reason:\n    1  not valid JSON: Expecting property name enclosed in double "
            "quotes\n") in done.stderr, done.stderr
    assert len(rejects.read_text().splitlines()) == 12


def test_follow_prints_the_summary_when_stopped(es: Elasticsearch, index: str,
                                                tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps(GOOD[0]) + "\nnot json\n")
    follower = subprocess.Popen(
        [SEGQL, "index", str(feed), "--follow", "--index", index, "--rejects",
         str(tmp_path / "rejected.jsonl")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "rejected.jsonl").exists():  # the first batch is through
            assert time.monotonic() < deadline and follower.poll() is None
            time.sleep(0.1)
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=60)
    assert follower.returncode == EXIT_REJECTED, err
    assert json.loads(out)["records"] == 2
    assert re.search(r"segql index: stopped in \d+:\d\d: 2 records read; 1 applied", err), err
    assert "applying started" in err and "1 rejected" in err


def test_an_interrupted_run_says_so_and_the_next_one_finishes(
    es: Elasticsearch, index: str, tmp_path: Path,
) -> None:
    path, lines = _sample(tmp_path, 100, "feed.jsonl")
    args = [str(path), "--index", index, "--rejects", str(tmp_path / "r.jsonl")]
    slow = subprocess.Popen([SEGQL, "index", *args, "--rate", "400"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not es.options(ignore_status=404).indices.exists(
                index=checkpoint_index_name(index)):  # a batch is in
            assert time.monotonic() < deadline and slow.poll() is None
            time.sleep(0.1)
    finally:
        slow.send_signal(signal.SIGINT)
        out, err = slow.communicate(timeout=60)
    assert slow.returncode == 1, err
    assert json.loads(out)["records"] < lines
    assert re.search(r"segql index: interrupted in \d+:\d\d: [\d,]+ records read", err), err
    assert err.endswith("interrupted: run the same command again to continue\n"), err
    assert "applying 100.0%" not in err, "an unfinished phase does not claim 100%"
    done = _index(*args)
    assert done.returncode == 0, done.stderr
    assert "segql index: finished in" in done.stderr
    assert f"{lines:,} records read (counting" in done.stderr, done.stderr


# -- progress ----------------------------------------------------------------------------


def _ended(err: str, phase: str) -> tuple[str, str]:
    """The done and total amounts of a phase's last plain line, which must say 100%."""
    found = re.findall(rf"^segql index: {re.escape(phase)} 100\.0%  ([\d,.]+)/([\d,.]+) "
                       r".*  done in \d+:\d\d$", err, re.MULTILINE)
    assert len(found) == 1, err
    return found[0]


@pytest.mark.parametrize(("name", "how", "phases"), [
    ("load.jsonl", [], ["partitioning", "folding+writing"]),
    ("load.jsonl.gz", [], ["partitioning", "folding+writing"]),
    ("batches.jsonl.gz", ["--incremental", "--batch-size", "700"], ["applying"]),
])
def test_plain_progress_names_each_phase_and_reaches_100_percent(
    index: str, tmp_path: Path, name: str, how: list[str], phases: list[str],
) -> None:
    """Not a terminal: a line when each phase starts and one when it ends at 100% (done ==
    total: bytes of the input as stored, through gzip too, or records)."""
    path, lines = _sample(tmp_path, 120, name)
    done = _index(str(path), "--index", index, "--rejects", str(tmp_path / "r.jsonl"), *how)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    started = [re.findall(rf"^segql index: {re.escape(p)} started: ", err, re.MULTILINE)
               for p in phases]
    assert all(len(found) == 1 for found in started), err
    for phase in phases:
        amount, total = _ended(err, phase)
        assert amount == total, err
    if "folding+writing" in phases:
        assert _ended(err, "folding+writing") == (f"{lines:,}", f"{lines:,}")
        assert f", {lines:,} lines  done in" in err
    positions = [err.index(f"{phase} started") for phase in phases]
    assert positions == sorted(positions) and err.index(phases[-1] + " 100.0%") < err.index(
        "segql index: finished in"), "phases in order, then the summary"


def _under_a_terminal(*args: str) -> tuple[int, str, str]:
    """`segql index` with stderr on a pseudo-terminal (150 columns): exit code, stdout and
    everything written to the terminal."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 150, 0, 0))
    process = subprocess.Popen([SEGQL, "index", *args], stdout=subprocess.PIPE,
                               stderr=terminal, stdin=subprocess.DEVNULL,
                               env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "150"})
    os.close(terminal)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(controller, 1 << 16)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    out = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=60), out, shown.decode(errors="replace")


@pytest.mark.parametrize(("name", "how", "phases"), [
    ("load.jsonl", [], ["partitioning", "folding+writing"]),
    ("batches.jsonl.gz", ["--incremental", "--batch-size", "700"], ["applying"]),
])
def test_terminal_bars_end_at_100_percent_in_every_phase(
    index: str, tmp_path: Path, name: str, how: list[str], phases: list[str],
) -> None:
    path, lines = _sample(tmp_path, 60, name)
    code, out, shown = _under_a_terminal(str(path), "--index", index, "--rejects",
                                         str(tmp_path / "r.jsonl"), *how)
    assert code == 0, shown
    assert json.loads(out)["records"] == lines
    assert "\x1b[" in shown, "drawn in place with terminal controls"
    rows = [row.strip() for row in re.split(r"[\r\n]", ANSI.sub("", shown)) if row.strip()]
    for phase in phases:
        last = [row for row in rows if row.startswith(phase + " ")][-1]
        assert "100%" in last, last
        amounts = re.search(r"([\d,.]+)/([\d,.]+) (?:MB|kB|bytes|records)", last)
        assert amounts is not None and amounts[1] == amounts[2], last
    assert rows[-1].startswith("segql index: finished in"), rows[-3:]


# -- the progress display on its own ----------------------------------------------------


def test_plain_lines_every_ten_seconds_with_counts_and_eta() -> None:
    out = io.StringIO()
    lines = PlainLines(out)
    phase = Phase("applying", "bytes", lambda: Count(0, None), "feed.jsonl in batches",
                  started=100.0)
    phase.count = phase.first = Count(0, 4_000_000, 0)
    lines.begin(phase)
    phase.count = Count(1_000_000, 4_000_000, 5_000)
    lines.update(phase, 105.0)  # 5 s: too soon
    lines.update(phase, 110.0)
    lines.update(phase, 125.0)  # nothing moved: no line
    phase.count = Count(4_000_000, 4_000_000, 20_000)
    phase.ended = 140.0
    lines.end(phase, 140.0)
    assert out.getvalue().splitlines() == [
        "segql index: applying started: feed.jsonl in batches",
        "segql index: applying 25.0%  1.0/4.0 MB, 5,000 lines  100.0 kB/s  ETA 0:30",
        "segql index: applying 100.0%  4.0/4.0 MB, 20,000 lines  done in 0:40",
    ]


@pytest.mark.parametrize(("display", "most"), [
    (lambda: TerminalBars(io.StringIO()), 4 * 1.5 + 2),
    (lambda: PlainLines(io.StringIO()), 1 * 1.5 + 2),
], ids=["terminal", "plain"])
def test_progress_reads_the_count_at_most_4_times_a_second(
    display: Callable[[], Display], most: float,
) -> None:
    """The run's hot loops never call the display: a thread reads the count, at most 4
    times a second on a terminal and once a second for plain lines."""
    polls: list[float] = []

    def poll() -> Count:
        polls.append(time.monotonic())
        return Count(len(polls), 1_000)

    progress = Progress(display())
    progress.start("folding+writing", "records", poll)
    time.sleep(1.5)
    progress.end()
    progress.close()
    assert 3 <= len(polls) <= most, len(polls)
    assert "segql-progress" not in [thread.name for thread in threading.enumerate()]


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("display", [PlainLines, TerminalBars], ids=["plain", "terminal"])
def test_a_display_that_cannot_write_is_dropped_not_fatal(
    display: Callable[[io.StringIO], Display],
) -> None:
    """stderr closed under a run (a log pipe gone): the progress stops, the run does not."""
    progress = Progress(display(_ClosedPipe()))
    progress.start("applying", "bytes", lambda: Count(1, 2))
    progress.end()
    progress.start("folding+writing", "records", lambda: Count(2, 2))
    progress.close()
    assert progress.display is None


@pytest.mark.parametrize("how", [[], ["--incremental"], ["--dry-run"]])
def test_a_line_nested_too_deeply_is_a_reject_not_a_fault(index: str, tmp_path: Path,
                                                          how: list[str]) -> None:
    """JSON nested deeper than the decoder can follow is bad input (exit 4, a reason),
    never an internal fault."""
    deep = "[" * 100_000 + "]" * 100_000
    feed = tmp_path / "deep.jsonl"
    feed.write_text(json.dumps(GOOD[0]) + "\n" + '{"type": "event", "account": "acme", '
                    '"contact": "c9", "id": "e9", "name": "X", '
                    f'"ts": "2026-01-01T00:00:00Z", "props": {{"p": {deep}}}}}\n')
    rejects = tmp_path / "rejected.jsonl"
    done = _index(str(feed), "--index", index, "--rejects", str(rejects), *how)
    assert done.returncode == EXIT_REJECTED, done.stderr
    (reject,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["line"] == 2
    assert reject["reason"] == ("not valid JSON here: arrays and objects nested too "
                                "deeply")
    assert "internal error" not in done.stderr
