"""`segql eval --segments FILE`: saved segments resolve `in_segment` offline, checked as
online. The proof: a slice of the shipped sample is indexed into a fresh index on the real
node, segments are saved there, `segql segment list --json` exports them, and a combined
segment evaluated offline over the same records with that export counts exactly what
`segql count` counts online. Then the errors: unknown references and cycles are positioned
check errors, a malformed file names its line or entry (all exit 2).
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql.api.segment_files import parse_segments
from segql.cli.main import cli
from segql.errors import InputError

NOW = "2025-10-01T00:00:00Z"
ACCOUNT = "demo"
SEGMENTS = {
    "Buyers": "event Purchase occurred",
    "Recent openers": "event MailOpen occurred within 30d",
    "VIP buyers": 'all(vip is_true, in_segment "buyers")',  # names match in any case
    "Engaged": 'any(in_segment "Recent openers", visit occurred at_least 3)',
}
COMBINED = 'in_segment "VIP buyers" or (in_segment "Engaged" and not in_segment "Buyers")'


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The first 8,000 records of the shipped sample (about 1,800 contacts)."""
    path = tmp_path_factory.mktemp("eval") / "records.jsonl"
    shipped = resources.files("segql.data").joinpath("sample.jsonl.gz")
    with gzip.open(str(shipped), "rt", encoding="utf-8") as lines:
        path.write_text("".join(itertools.islice(lines, 8000)), encoding="utf-8")
    return str(path)


@pytest.fixture
def indexed(es: Elasticsearch, index_name: str, es_url: str, data: str,
            tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The records indexed into a fresh index, the segments saved beside it."""
    env = {"ELASTICSEARCH_URL": es_url}
    try:
        result = run("index", data, "--index", index_name,
                     "--rejects", str(tmp_path / "rejects.jsonl"), env=env)
        assert result.exit_code == 0, result.output
        for name, text in SEGMENTS.items():
            result = run("segment", "create", name, "--expr", text, "-a", ACCOUNT,
                         "--index", index_name, "--now", NOW, env=env)
            assert result.exit_code == 0, result.output
        yield index_name, env
    finally:
        admin(es).options(ignore_status=404).indices.delete(
            index=f"{index_name}-segments,{index_name}-checkpoints", ignore_unavailable=True)


def online_count(index: str, env: dict[str, str], *target: str) -> int:
    result = run("count", *target, "-a", ACCOUNT, "--index", index, "--now", NOW, env=env)
    assert result.exit_code == 0, result.output
    return int(result.stdout)


def offline(data: str, segments: str, *target: str) -> Result:
    return run("eval", *target, "-a", ACCOUNT, "--now", NOW, "--data", data,
               "--segments", segments, "--count")


def test_offline_counts_equal_online_counts(indexed: tuple[str, dict[str, str]], data: str,
                                            tmp_path: Path) -> None:
    index, env = indexed
    listed = run("segment", "list", "--json", "-a", ACCOUNT, "--index", index, "--now", NOW,
                 env=env)
    assert listed.exit_code == 0, listed.output
    export = tmp_path / "segments.json"
    export.write_text(listed.stdout, encoding="utf-8")  # exported as list --json prints it
    assert {row["name"]: row["expression"] for row in json.loads(listed.stdout)} == SEGMENTS

    counts = {}
    for target in ([COMBINED], ["--segment", "Engaged"], ["--segment", "vip BUYERS"]):
        result = offline(data, str(export), *target)
        assert result.exit_code == 0, result.output
        counts[target[-1]] = int(result.stdout)
        assert counts[target[-1]] == online_count(index, env, *target), target
    assert 0 < counts["vip BUYERS"] < counts[COMBINED] < 1800, "the segments select some"


SHAPES = {
    "array": json.dumps([{"name": n, "expression": t} for n, t in SEGMENTS.items()]),
    "object": json.dumps(SEGMENTS),
    "jsonl, as the HTTP API and segment show print": "\n".join(
        json.dumps({"name": n, key: t, "description": None})
        for (n, t), key in zip(SEGMENTS.items(), ["text", "expression", "expr", "text"],
                               strict=True)) + "\n",
}


def test_every_file_shape_gives_the_same_answer(data: str, tmp_path: Path) -> None:
    answers = set()
    for shape, content in SHAPES.items():
        path = tmp_path / "segments"
        path.write_text(content, encoding="utf-8")
        assert parse_segments(content) == SEGMENTS, shape
        result = offline(data, str(path), COMBINED)
        assert result.exit_code == 0, (shape, result.output)
        answers.add(int(result.stdout))
    assert len(answers) == 1


# --- errors: exit 2, positioned or naming the line/entry -------------------------------

BAD_REFERENCES = [
    # (segments, expression, the first line of stderr)
    (SEGMENTS, 'all(vip is_true,\n    in_segment "Byers")',
     'error[E_UNKNOWN_SEGMENT] at line 2, column 5: no saved segment called "Byers"'),
    ({"A": 'in_segment "b"', "B": 'age > 3 and in_segment "A"'}, 'vip is_true or in_segment "a"',
     "error[E_SEGMENT_CYCLE] at line 1, column 16: segments refer to each other in a cycle: "
     "A → B → A"),
    ({"Self": 'in_segment "self"'}, 'in_segment "Self"',
     "error[E_SEGMENT_CYCLE] at line 1, column 1: segments refer to each other in a cycle: "
     "Self → Self"),
    ({"A": 'in_segment "B"', "B": 'age > "x"'}, 'in_segment "A"',
     'error[E_SEGMENT_INVALID] at line 1, column 1: saved segment "B" (used through "A"): '
     "`>` needs a number, not a string (line 1, column 7 of its definition)"),
]


@pytest.mark.parametrize(("segments", "text", "first"), BAD_REFERENCES,
                         ids=["unknown", "cycle", "self", "invalid"])
def test_bad_references_are_positioned_errors(data: str, tmp_path: Path,
                                              segments: dict[str, str], text: str,
                                              first: str) -> None:
    path = tmp_path / "segments.json"
    path.write_text(json.dumps(segments), encoding="utf-8")
    result = offline(data, str(path), text)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == first
    assert result.stdout == ""


def test_a_bad_saved_segment_by_name_says_which(data: str, tmp_path: Path) -> None:
    path = tmp_path / "segments.json"
    path.write_text(json.dumps({"Teens": 'age < "20"'}), encoding="utf-8")
    result = offline(data, str(path), "--segment", "teens")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == [
        f'in segment "teens" of {path}:',
        "error[E_OPERAND_TYPE] at line 1, column 7: `<` needs a number, not a string"]


MALFORMED = [
    ('{"name": "A", "expression": "vip is_true"}\n{"name": "B",\n',
     "line 2, column 14: not valid JSON (Expecting property name enclosed in double "
     "quotes)"),
    ('[{"name": "A", "expression": "vip is_true"},]',
     "line 1, column 45: not valid JSON (Expecting value)"),
    ('[{"name": "A", "expression": "vip is_true"}, {"name": "B"}]',
     'entry 2: segment "B" needs its expression under one of `expression`, `text` or `expr`'),
    ('[{"name": "A", "expression": "x", "text": "y"}]',
     "entry 1: segment \"A\" needs its expression under one of `expression`, `text` or "
     "`expr` (found expression, text)"),
    ('{"A": "vip is_true", "B": 3}', 'entry 2: the expression of segment "B" should be a '
     "non-empty string"),
    ('{"A": "vip is_true", "a": "vip is_false"}',
     'entry 2: segment "a" is listed twice (also at entry 1; names are unique in any case)'),
    ('{"name": "A", "expression": "x"}\n\n{"name": "a ", "expression": "y"}\n',
     "line 3: a segment name can't start or end with white space"),
    ('{"name": 7, "expression": "x"}\n{"name": "B", "expression": "y"}\n',
     "line 1: `name` should be a string"),
    ("[1]", "entry 1: expected an object with `name` and `expression`"),
    ('"Buyers"', "expected a JSON array of segments, an object name → expression, or "
     "JSON Lines"),
]


@pytest.mark.parametrize(("content", "says"), MALFORMED, ids=[m[1][:40] for m in MALFORMED])
def test_a_malformed_file_names_the_line_or_entry(data: str, tmp_path: Path, content: str,
                                                  says: str) -> None:
    path = tmp_path / "segments.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        parse_segments(content, str(path))
    assert str(caught.value) == f"{path}: {says}"
    result = offline(data, str(path), "vip is_true")
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: {says}\n"


USAGE = [
    (["--segment", "Buyers"], "--segment NAME needs --segments FILE"),
    (["vip is_true", "--segment", "Buyers", "--segments", "{file}"],
     "give EXPR or --segment NAME (one of them)"),
    (["--segments", "{file}"], "give EXPR or --segment NAME (one of them)"),
]


@pytest.mark.parametrize(("args", "says"), USAGE, ids=[u[1] for u in USAGE])
def test_usage(data: str, tmp_path: Path, args: list[str], says: str) -> None:
    path = tmp_path / "segments.json"
    path.write_text(json.dumps(SEGMENTS), encoding="utf-8")
    result = run("eval", *[a.replace("{file}", str(path)) for a in args], "-a", ACCOUNT,
                 "--data", data, "--count")
    assert result.exit_code == 2 and says in result.stderr


def test_an_unknown_segment_name_suggests_one(data: str, tmp_path: Path) -> None:
    path = tmp_path / "segments.json"
    path.write_text(json.dumps(SEGMENTS), encoding="utf-8")
    result = offline(data, str(path), "--segment", "Byers")
    assert result.exit_code == 2
    assert result.stderr == f'error: {path} has no segment "Byers"; did you mean "Buyers"?\n'


def test_without_segments_in_segment_is_unknown(data: str) -> None:
    result = run("eval", 'in_segment "Buyers"', "-a", ACCOUNT, "--data", data, "--count")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        'error[E_UNKNOWN_SEGMENT] at line 1, column 1: no saved segment called "Buyers"')
    assert "list it in --segments FILE" in result.stderr
