"""Bad input never crashes anything (LANGUAGE.md §6): parse either returns an AST, which
then formats and parses back to itself, or raises SegmentError with sane positions, for
random text, mutations of valid segments, pathological shapes, and random bytes through
the CLI. Every input is counted: at least 10,000 per run."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from segql.cli.language_commands import COMMANDS
from segql.errors import SegmentError
from segql.grammar.format import fmt
from segql.grammar.jsonform import from_json, to_json
from segql.grammar.keywords import KEYWORDS
from segql.grammar.limits import MAX_BYTES, MAX_ERRORS
from segql.grammar.parser import parse

SEEDS = [
    'all(\n  city starts_with "War",\n  event MailOpen occurred,\n'
    '  any(age between 25 and 40, vip is_true),\n  not event MailClick occurred within 30d\n)',
    'city = "Warszawa" or `Data urodzenia` before today-18y and not tags in ["a", "b\\"c"]',
    'event Purchase where (amount >= 100.5 and currency != "PLN") occurred at_least 2 times '
    'within 30d',
    'visit where (url contains "/p/") not_occurred between "2025-01-01" and now-1h',
    'not in_segment "Unsubscribed buyers" and (a has_value or b has_no_value)',
    "any(age < -3, age > 1e3, signup within 6mo, vip is_false, x not_on now+1w) # comment",
    'event "Order Completed" occurred exactly 0 since "2025-01-31T10:00:00Z"',
]
#: Pieces mutations insert: every keyword, punctuation, literals and garbage.
PIECES = [
    *sorted(KEYWORDS), "(", ")", "[", "]", ",", "=", "!=", ">=", "<", '"x"', '"', "`", "`a b`",
    "1", "-2.5", "1e999", "30d", "now-1d", "#", "\n", "\x00", "\\", "'", "~", "&&", "😀",
    "\u2028", "\udcff", " ", "all(", "not", "where (",
]
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|[\w.+-]+|\s+|.', re.DOTALL)


def check(text: str) -> None:
    """The invariant, for one input."""
    try:
        node = parse(text)
    except SegmentError as error:
        assert 1 <= len(error.diagnostics) <= MAX_ERRORS
        for d in error.diagnostics:
            assert d.code.startswith("E_") and d.message
            assert 1 <= d.line <= d.end_line and d.column >= 1 and d.end_column >= 1
            assert (d.end_line, d.end_column) > (d.line, d.column)
        error.render()
        return
    canonical = fmt(node)
    again = parse(canonical)
    assert again.same(node), (text, canonical)
    assert fmt(again) == canonical
    try:
        back = from_json(to_json(node))
    except SegmentError as error:  # a shape with no meaning has no JSON form: `a in 1`
        assert {d.code for d in error.diagnostics} == {"E_JSON"}, error.diagnostics
        assert all(d.pointer is not None for d in error.diagnostics), error.diagnostics
    else:
        assert back.same(node)


def mutants(rng: random.Random, n: int) -> Iterator[str]:
    """Token-level deletions, insertions, swaps and duplications of valid segments."""
    for _ in range(n):
        tokens = TOKEN.findall(rng.choice(SEEDS))
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(tokens))
            operation = rng.randrange(4)
            if operation == 0 and len(tokens) > 1:
                del tokens[i]
            elif operation == 1:
                tokens.insert(i, rng.choice(PIECES))
            elif operation == 2:
                j = rng.randrange(len(tokens))
                tokens[i], tokens[j] = tokens[j], tokens[i]
            else:
                tokens.insert(i, tokens[i])
        yield "".join(tokens)


def pathological() -> Iterator[str]:
    yield "(" * 10_000 + "a has_value" + ")" * 10_000
    yield "(" * 10_000
    yield ")" * 10_000
    yield "not " * 10_000 + "a has_value"
    yield "not " * 10_000
    yield "all(" * 10_000 + "a has_value" + ")" * 10_000
    yield "event X where (" * 5_000 + "a has_value" + ") occurred" * 5_000
    yield "a in [" * 10_000
    yield 'a = "' + "x" * 60_000 + '"'
    yield 'a = "' + "\\u0041" * 10_000 + '"'
    yield 'a = "' + "x" * 60_000
    yield "`" + "x" * 60_000
    yield "a = " + "9" * 60_000
    yield "a has_value or " * 4_700 + "a has_value"  # 70 KiB
    yield "\x00" * MAX_BYTES
    yield "a has_value\x00"
    yield '"' * 10_000
    yield "`" * 10_000
    yield "#" * MAX_BYTES
    yield "all(" + "," * 60_000 + ")"
    yield " ".join(["a ~ 1,"] * 10_000)[:MAX_BYTES]
    yield "a in [" + "1," * 30_000 + "]"
    yield "\udcff" * 100


def random_texts() -> int:
    """Hypothesis text through `check`: pieces of the language mixed with any characters,
    then any Unicode text. Returns how many."""
    seen: list[str] = []

    @settings(max_examples=2_500, deadline=None, database=None)
    @given(st.lists(st.one_of(st.sampled_from(PIECES), st.characters()), max_size=40)
           .map("".join))
    def near(text: str) -> None:
        check(text)
        seen.append(text)

    @settings(max_examples=500, deadline=None, database=None)
    @given(st.text(max_size=200))
    def anything(text: str) -> None:
        check(text)
        seen.append(text)

    near()
    anything()
    return len(seen)


def mutated_json(rng: random.Random, n: int) -> Iterator[str]:
    forms = [to_json(parse(seed)) for seed in SEEDS]
    for _ in range(n):
        chars = list(rng.choice(forms))
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(len(chars))] = rng.choice('{}[]",:0123456789-.aeEtrufnl \\')
        yield "".join(chars)


def cli() -> click.Group:
    group = click.Group("segql")
    for command in COMMANDS:
        group.add_command(command)
    return group


def invoke(args: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli(), args, input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def random_bytes(rng: random.Random) -> bytes:
    """Random bytes; or a valid segment or soup of the language's pieces, with a few
    random bytes inserted or none."""
    choice = rng.random()
    if choice < 0.3:
        return rng.randbytes(rng.randint(0, 200))
    encodable = [p for p in PIECES if p != "\udcff"]
    text = (rng.choice(SEEDS) if choice < 0.6 else
            "".join(rng.choice([*encodable, " ", "a", "has_value"]) for _ in range(20)))
    raw = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(0, 2)):
        raw.insert(rng.randint(0, len(raw)), rng.randrange(256))
    return bytes(raw)


def utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def bytes_through_the_cli(tmp_path: Path, n: int) -> int:
    """Random bytes in files, through `segql fmt` and `segql parse --json`: exit 0 or 2."""
    rng = random.Random(42)
    exits: dict[int, int] = {}
    for i in range(n):
        data = random_bytes(rng)
        path = tmp_path / f"input-{i}"
        path.write_bytes(data)
        command = ["fmt"] if i % 2 else ["parse", "--json"]
        code, output = invoke([*command, f"@{path}"])
        assert code in (0, 2), output
        exits[code] = exits.get(code, 0) + 1
        if code == 2 and not utf8(data):
            assert "not UTF-8" in output
        elif code == 2 and "--json" in command:
            assert json.loads(output)["valid"] is False
    assert invoke(["fmt", "-"], stdin=b"a has_value \xff\xfe")[0] == 2
    assert exits.get(0) and exits.get(2)
    return n + 1


def test_fuzz(tmp_path: Path) -> None:
    rng = random.Random(20250131)
    texts = [*SEEDS, *pathological(), *mutants(rng, 10_000)]
    for text in texts:
        check(text)
    documents = list(mutated_json(rng, 500))
    for document in documents:
        try:
            from_json(document)
        except SegmentError as error:
            assert error.diagnostics
    total = (len(texts) + random_texts() + len(documents)
             + bytes_through_the_cli(tmp_path, 400))
    print(f"{total:,} fuzzed inputs")
    assert total >= 10_000


@pytest.mark.parametrize("text", [
    "(" * 10_000, "not " * 10_000 + "a has_value", "a = " + "9" * 5000, "\x00",
    'city = "' + "x" * 5000 + '"', "all(", "city ~ 3", "\udcff",
])
def test_check_exits_2_without_a_traceback(text: str) -> None:
    code, output = invoke(["check", text])
    assert code == 2 and output.startswith("error")
    if text != "\udcff":  # not UTF-8: an input error, not a segment's
        code, output = invoke(["check", "--json", text])
        assert code == 2 and json.loads(output)["valid"] is False
