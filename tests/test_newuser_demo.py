"""Issue 14: what a new user meets right after `scripts/demo` on a fresh clone.

One module fixture clones the repository, runs the clone's own `scripts/demo` (a fresh
virtual environment, pip's cache) against the test node with `$SEGQL_CONFIG` pointing at a
file of the test's. Then, each finding as a scenario with its output and exit code:
1. the next command uses the demo's index (the configuration file it wrote); a missing
   index is named with the cluster and how to load it;
4. a misspelt account warns (still exit 0); `check` never defaults an account;
5. a contact index that is several indices, an invalid name or a store of segql is
   refused (exit 2); an alias of exactly one index is fine;
and the README's next commands, run as printed in the clone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch

from segql.cli.language_commands import NO_ACCOUNT_NOTE
from segql.cli.main import cli
from segql.indexer.loader import ensure_index
from segql.localnode import free_port

pytestmark = pytest.mark.es

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = 'all(city starts_with "War", event MailOpen occurred)'
#: A line of the demo's counts: ES count, expression, reference evaluator's count.
COUNT_LINE = re.compile(r"^ *(\d+)  (.+)   \(Elasticsearch took \d+ ms; "
                        r"reference evaluator: (\d+)\)$")
STORES = ("", "-catalog", "-segments", "-tokens", "-checkpoints")


@dataclass(frozen=True)
class Demo:
    clone: Path
    index: str
    config: Path
    stdout: str
    #: expression → the reference evaluator's count the demo printed
    references: dict[str, int]
    #: what the demo ran with (and what the README's commands run with)
    env: dict[str, str]

    def cli(self, *args: str, **env: str | None) -> Result:
        """`segql ARGS` (the installed package, in process) as the user's next command:
        the demo's configuration file, no $SEGQL_INDEX."""
        return CliRunner().invoke(cli, list(args), env={
            "SEGQL_CONFIG": str(self.config), "SEGQL_INDEX": None,
            "ELASTICSEARCH_URL": self.env["ELASTICSEARCH_URL"], **env})


def user_environment(es_url: str, config: Path) -> dict[str, str]:
    """A new user's shell: the test node, the test's configuration file; nothing of this
    test run's own virtual environment or index."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SEGQL_INDEX", "SEGQL_VENV", "VIRTUAL_ENV", "PYTHONPATH")}
    env.update(ELASTICSEARCH_URL=es_url, SEGQL_CONFIG=str(config))
    return env


@pytest.fixture(scope="module")
def demo(es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("fresh")
    clone = folder / "segql"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True,
                   timeout=300)
    index = f"segql-test-{uuid.uuid4().hex[:12]}"
    config = folder / "config-home" / "segql" / "config.toml"
    env = user_environment(es_url, config)
    started = time.monotonic()
    try:
        run = subprocess.run([str(clone / "scripts" / "demo"), "--index", index], cwd=clone,
                             env=env, capture_output=True, text=True, timeout=900)
        print(f"scripts/demo on a fresh clone: {time.monotonic() - started:.0f} s")
        assert run.returncode == 0, run.stdout + run.stderr
        references: dict[str, int] = {}
        for line in run.stdout.splitlines():
            found = COUNT_LINE.match(line)
            if found:
                assert found[1] == found[3], line
                references[found[2]] = int(found[3])
        assert len(references) == 5, run.stdout
        yield Demo(clone=clone, index=index, config=config, stdout=run.stdout,
                   references=references, env=env)
    finally:
        es.options(ignore_status=404).indices.delete(
            index=",".join(index + suffix for suffix in STORES), ignore_unavailable=True)


# -- finding 1: the next command after the demo --------------------------------------


def test_the_demo_makes_its_index_the_default_and_says_how_to_undo(demo: Demo) -> None:
    assert demo.config.read_text() == f'index = "{demo.index}"\n'
    assert (f'wrote `index = "{demo.index}"` to {demo.config} (created it): every segql '
            "command now uses the demo's index unless --index or $SEGQL_INDEX says "
            "otherwise\n") in demo.stdout
    assert f"to undo: rm {demo.config}\n" in demo.stdout


def test_the_obvious_next_commands_work(demo: Demo) -> None:
    counted = demo.cli("count", EXAMPLE, "--account", "demo")
    assert (counted.exit_code, counted.stdout, counted.stderr) == (
        0, f"{demo.references[EXAMPLE]}\n", "")
    checked = demo.cli("check", "age > 30", "-a", "demo")
    assert (checked.exit_code, checked.stdout, checked.stderr) == (0, "ok\n", "")


@pytest.mark.parametrize("args", [
    ["count", EXAMPLE, "-a", "demo"],
    ["check", "age > 30", "-a", "demo"],
    ["export", EXAMPLE, "-a", "demo"],
    ["explain", EXAMPLE, "--contact", "c1", "-a", "demo"],
    ["compile", EXAMPLE, "-a", "demo"],
    ["segment", "list", "-a", "demo"],
    ["segment", "show", "x", "-a", "demo"],
])
def test_a_missing_index_is_named_with_the_cluster_and_how_to_load_it(
        demo: Demo, es_url: str, args: list[str]) -> None:
    missing = f"{demo.index}-nothing"
    told = f"on {es_url}: load contacts with `segql index FILE --index {missing}`\n"
    result = demo.cli(*args, "--index", missing)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: no contact index `{missing}` {told}"
    from_env = demo.cli(*args, SEGQL_INDEX=missing)
    assert from_env.stderr == f"error: no contact index `{missing}` (from $SEGQL_INDEX) {told}"
    other_config = demo.config.with_name("other.toml")
    other_config.write_text(f'index = "{missing}"\n')
    from_file = demo.cli(*args, SEGQL_CONFIG=str(other_config))
    assert from_file.exit_code == 1
    assert from_file.stderr == f"error: no contact index `{missing}` (from {other_config}) {told}"


# -- finding 4: a misspelt account, and no silent default account --------------------


def _warning(demo: Demo, es_url: str, account: str, hint: str) -> str:
    return (f"warning: account `{account}` has no contacts and no catalog in index "
            f"`{demo.index}` on {es_url}; accounts are case-sensitive — {hint}\n")


@pytest.mark.parametrize(("args", "stdout", "stderr_before", "account", "hint"), [
    (["count", EXAMPLE, "-a", "Demo"], "0\n", "", "Demo",
     "did you mean `demo`? Known accounts include: demo"),
    (["count", EXAMPLE, "-a", "Demo", "--channels"],
     '{"total": 0, "email": 0, "sms": 0, "push": 0, "left_out": {'
     '"email": {"no_address": 0, "unsubscribed": 0, "bounced": 0, "complained": 0}, '
     '"sms": {"no_address": 0, "unsubscribed": 0, "bounced": 0, "complained": 0}, '
     '"push": {"no_address": 0, "unsubscribed": 0, "bounced": 0, "complained": 0}}}\n',
     "", "Demo",
     "did you mean `demo`? Known accounts include: demo"),
    (["export", EXAMPLE, "-a", "nobody"], "",
     '{"exported": 0, "contacts": 0, "without_address": 0, "renewed": 0}\n', "nobody",
     "known accounts include: demo"),
    (["segment", "list", "-a", "nobody"], "", "", "nobody", "known accounts include: demo"),
    (["check", "city has_value", "-a", "nobody"], "ok\n", "", "nobody",
     "known accounts include: demo"),
    (["compile", "city has_value", "-a", "DEMO"], None, "", "DEMO",
     "did you mean `demo`? Known accounts include: demo"),
    (["catalog", "show", "-a", "nobody", "--json"], None, "", "nobody",
     "known accounts include: demo"),
    # a known account with an empty answer: no warning
    (["count", 'city equals "nowhere at all"', "-a", "demo"], "0\n", "", None, ""),
    (["segment", "list", "-a", "demo"], "", "", None, ""),
])
def test_an_unknown_account_warns_and_still_answers(
        demo: Demo, es_url: str, args: list[str], stdout: str | None, stderr_before: str,
        account: str | None, hint: str) -> None:
    result = demo.cli(*args)
    assert result.exit_code == 0, result.output
    if stdout is not None:
        assert result.stdout == stdout
    warning = _warning(demo, es_url, account, hint) if account else ""
    assert result.stderr == stderr_before + warning


def test_a_token_for_an_unknown_account_warns(demo: Demo, es_url: str) -> None:
    result = demo.cli("token", "create", "-a", "Demo", "--scope", "read")
    assert result.exit_code == 0 and len(result.stdout.strip()) > 20
    assert result.stderr.startswith(_warning(
        demo, es_url, "Demo", "did you mean `demo`? Known accounts include: demo"))


def test_check_without_an_account_uses_the_standard_fields_and_no_cluster() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: a request would fail
    env = {"ELASTICSEARCH_URL": nowhere}
    result = CliRunner().invoke(cli, ["check", "city has_value"], env=env)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "ok\n", NO_ACCOUNT_NOTE + "\n")
    result = CliRunner().invoke(cli, ["check", "age > 30"], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith(NO_ACCOUNT_NOTE + "\nerror[E_UNKNOWN_FIELD]")
    result = CliRunner().invoke(cli, ["check", "city has_value", "--index", "x"], env=env)
    assert result.exit_code == 2 and "--index needs --account" in result.stderr


@pytest.mark.parametrize("args", [
    ["count", EXAMPLE], ["export", EXAMPLE], ["explain", EXAMPLE, "--contact", "c1"],
    ["compile", EXAMPLE], ["eval", EXAMPLE, "--data", str(REPO / "README.md")],
    ["segment", "list"], ["segment", "show", "x"], ["segment", "create", "x", "--expr", "a"],
    ["segment", "edit", "x", "--expr", "a"], ["segment", "delete", "x"],
    ["catalog", "show"], ["catalog", "set", "-"], ["catalog", "learn", "-"],
    ["token", "create", "--scope", "read"],
])
def test_no_command_defaults_the_account(args: list[str]) -> None:
    """The audit: every command that works on an account's data requires --account."""
    result = CliRunner().invoke(cli, args, env={"ELASTICSEARCH_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 2
    assert "Missing option '--account'" in result.stderr


# -- finding 5: one contact index, a valid name, not a store --------------------------


@pytest.fixture(scope="module")
def aliases(demo: Demo, es: Elasticsearch) -> Iterator[dict[str, str]]:
    """`one`: an alias of the demo's index; `two`: an alias of it and another contact
    index (a contact in both would be counted twice); `other`: that index."""
    other = f"{demo.index}-b"
    ensure_index(es, other)
    names = {"one": f"{demo.index}-one", "two": f"{demo.index}-two", "other": other}
    es.indices.update_aliases(actions=[
        {"add": {"index": demo.index, "alias": names["one"]}},
        {"add": {"index": demo.index, "alias": names["two"]}},
        {"add": {"index": other, "alias": names["two"]}},
    ])
    try:
        yield names
    finally:
        es.options(ignore_status=404).indices.delete(index=other, ignore_unavailable=True)


def _targets(demo: Demo, aliases: dict[str, str]) -> list[tuple[str, str]]:
    """(target, the rule the refusal states)."""
    index = demo.index
    return [
        (f"{index},{aliases['other']}", "a comma list names several indices; segql reads "
         "one contact index (a contact in two would be counted and exported twice)"),
        ("*", "a wildcard may match several indices"),
        (f"{index[:-4]}*", "a wildcard may match several indices"),
        (aliases["two"], f"it is an alias of 2 indices (`{index}`, `{aliases['other']}`)"),
        ("TRIAL-A", "index names are lowercase"),
        (f"{index}-catalog", f"it is where segql keeps the account catalogs of the contact "
         f"index `{index}`, not a contact index; give `{index}`"),
        (f"{index}-tokens", "it is where segql keeps the API tokens"),
        (f"{index}-segments", "it is where segql keeps the saved segments"),
        (f"{index}-checkpoints", "it is where segql keeps the indexer's checkpoints"),
        ("trial a", "index names can't contain a space"),
        ('a"b', "index names can't contain `\"`"),
        ("a#b", "index names can't contain `#`"),
        ("_trial", "index names can't start with -, _ or +"),
        ("..", "an index name can't be . or .."),
        ("x" * 256, "index names are at most 255 bytes"),
    ]


COMMANDS: list[list[str]] = [
    ["count", EXAMPLE, "-a", "demo"],
    ["export", EXAMPLE, "-a", "demo"],
    ["explain", EXAMPLE, "--contact", "c1", "-a", "demo"],
    ["compile", EXAMPLE, "-a", "demo"],
    ["check", EXAMPLE, "-a", "demo"],
    ["segment", "list", "-a", "demo"],
    ["segment", "create", "x", "--expr", EXAMPLE, "-a", "demo"],
    ["catalog", "show", "-a", "demo"],
    ["token", "list"],
    ["index", str(REPO / "README.md")],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_target_of_several_indices_or_a_bad_name_is_refused(
        demo: Demo, aliases: dict[str, str], args: list[str]) -> None:
    for target, rule in _targets(demo, aliases):
        result = demo.cli(*args, "--index", target)
        assert (result.exit_code, result.stdout) == (2, ""), (target, result.output)
        assert result.stderr.startswith(
            f"error: can't use `{target}` as the contact index: {rule}"), result.stderr
        assert result.stderr.count("\n") == 1, result.stderr


def test_serve_checks_its_index_at_startup(demo: Demo, aliases: dict[str, str]) -> None:
    """In a subprocess: a `serve` that failed to refuse would start serving."""
    for target, rule in _targets(demo, aliases)[:5]:
        run = subprocess.run(
            [str(Path(sys.executable).parent / "segql"), "serve", "--no-auth", "--port",
             str(free_port()), "--index", target],
            env=demo.env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, run.stderr
        assert f"error: can't use `{target}` as the contact index: {rule}" in run.stderr


def test_an_alias_of_one_index_is_fine(demo: Demo, aliases: dict[str, str]) -> None:
    result = demo.cli("count", EXAMPLE, "-a", "demo", "--index", aliases["one"])
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, f"{demo.references[EXAMPLE]}\n", "")


# -- the README's next commands, as printed ------------------------------------------


def next_commands(readme: Path) -> str:
    """The shell block between `<!-- next-commands -->` and `<!-- /next-commands -->`."""
    text = readme.read_text("utf-8")
    block = text.split("<!-- next-commands -->\n", 1)[1].split("<!-- /next-commands -->", 1)[0]
    assert block.startswith("```sh\n") and block.endswith("```\n"), block
    return block.removeprefix("```sh\n").removesuffix("```\n")


def _expected_counts(block: str, references: dict[str, int]) -> list[int]:
    """The reference evaluator's count for each count the block prints, in order."""
    expected: list[int] = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] == [".venv/bin/segql", "count"]:
            expected.append(references[words[2]])
        elif words and words[0] == "curl":
            expected.append(references[json.loads(words[words.index("-d") + 1])["text"]])
    return expected


def _printed_counts(stdout: str) -> list[int]:
    counts: list[int] = []
    for line in stdout.splitlines():
        if line.isdigit():
            counts.append(int(line))
        elif line.startswith("{"):
            answer: dict[str, Any] = json.loads(line)
            counts.append(answer["total"] if "total" in answer else answer["count"])
    return counts


def test_the_readme_next_commands_work_as_printed(demo: Demo) -> None:
    block = next_commands(demo.clone / "README.md")
    assert block.count("8080") == 2, block
    # The one change: a free port instead of 8080, which may be taken on a shared machine.
    script = block.replace("8080", str(free_port()))
    expected = _expected_counts(block, demo.references)
    assert len(expected) == 3, block
    process = subprocess.Popen(["bash", "-e", "-c", script], cwd=demo.clone, env=demo.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        # whatever the block left running (the server, if `kill %1` failed)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    assert process.returncode == 0, stdout + stderr
    assert _printed_counts(stdout) == expected, stdout
    assert "ok" in stdout.splitlines()
    exported = (demo.clone / "war.csv").read_text().splitlines()
    assert exported[0] == "contact_id" and len(exported) - 1 == demo.references[EXAMPLE]
    assert "warning" not in stderr and "error" not in stderr, stderr
