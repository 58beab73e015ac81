"""The per-user configuration file: where it is, the precedence of a setting (option >
environment > file > default), and `set_value` changing one key while keeping the rest of
the file (what `segql demo` does). No Elasticsearch."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from segql import api
from segql.cli.main import cli
from segql.userconfig import ConfigError, config_path, lookup, read_config, set_value, toml_string


@pytest.mark.parametrize(("segql_config", "xdg", "expected"), [
    ("/etc/mine.toml", "/xdg", "/etc/mine.toml"),
    ("", "/xdg", "/xdg/segql/config.toml"),
    ("", "", "HOME/.config/segql/config.toml"),
    ("", "relative/xdg", "HOME/.config/segql/config.toml"),  # XDG says: absolute only
])
def test_where_the_file_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, segql_config: str,
                           xdg: str, expected: str) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SEGQL_CONFIG", segql_config)
    monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert config_path() == Path(expected.replace("HOME", str(tmp_path)))


@pytest.mark.parametrize(("option", "env", "in_file", "value", "origin"), [
    ("from-option", "from-env", "from-file", "from-option", "option"),
    (None, "from-env", "from-file", "from-env", "$SEGQL_INDEX"),
    (None, "", "from-file", "from-file", "FILE"),
    (None, "", None, "segql-contacts", "default"),
    (None, "from-env", None, "from-env", "$SEGQL_INDEX"),
])
def test_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str | None,
                    env: str, in_file: str | None, value: str, origin: str) -> None:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("SEGQL_CONFIG", str(path))
    monkeypatch.setenv("SEGQL_INDEX", env)
    if in_file is not None:
        path.write_text(f'index = "{in_file}"\n')
    setting = api.index_setting(option)
    assert (setting.value, setting.origin) == (value, origin.replace("FILE", str(path)))
    assert lookup("index", "SEGQL_INDEX", "segql-contacts", option) == setting
    if option is None:
        assert api.index_name() == value


def test_set_value_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "config.toml"
    written = set_value("index", "segql-demo", path)
    assert (written.created, written.previous) == (True, None)
    assert path.read_text() == 'index = "segql-demo"\n'


@pytest.mark.parametrize(("before", "after"), [
    # the key's line changes; comments, blank lines and the line order stay
    ('# mine\nindex = "old"   # a comment goes with its line\n\n# end\n',
     '# mine\nindex = "segql-demo"\n\n# end\n'),
    # no such key yet: added at the end of the top-level keys
    ("# only a comment", '# only a comment\nindex = "segql-demo"\n'),
    ("", 'index = "segql-demo"\n'),
    ('  index="x"\n', 'index = "segql-demo"\n'),
])
def test_set_value_changes_only_its_line(tmp_path: Path, before: str, after: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(before)
    written = set_value("index", "segql-demo", path)
    assert path.read_text() == after
    assert written.created is False
    assert written.previous == read_config_of(before).get("index")


def read_config_of(text: str) -> dict[str, str]:
    return tomllib.loads(text)


@pytest.mark.parametrize(("text", "complaint"), [
    ("index = ", "is not valid TOML"),
    ('idnex = "x"\n', "unknown key `idnex`"),
    ("index = 3\n", "`index` must be a string"),
    ('[index]\nname = "x"\n', "`index` must be a string"),  # a table is not a setting
    ('[proxy]\nurl = "x"\n', "unknown key `proxy`"),
])
def test_a_file_segql_cannot_read_is_an_input_error(tmp_path: Path, text: str,
                                                    complaint: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    for action in (lambda: read_config(path), lambda: set_value("index", "x", path)):
        with pytest.raises(ConfigError, match=complaint) as raised:
            action()
        assert str(path) in str(raised.value) and raised.value.exit_code == 2
    assert path.read_text() == text, "a file segql can't read is never rewritten"


def test_a_quoted_key_is_not_rewritten_around(tmp_path: Path) -> None:
    """A line segql can't edit in place is refused before anything is written."""
    path = tmp_path / "config.toml"
    path.write_text('"index" = "old"\n')
    with pytest.raises(ConfigError, match="edit the file by hand"):
        set_value("index", "new", path)
    assert path.read_text() == '"index" = "old"\n'


def test_the_cli_reports_a_broken_file_with_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("index = [")
    result = CliRunner().invoke(cli, ["count", "city has_value", "-a", "demo"],
                                env={"SEGQL_CONFIG": str(path), "SEGQL_INDEX": None,
                                     "ELASTICSEARCH_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: the configuration file {path} is not valid TOML")
    assert "Traceback" not in result.output


@given(st.text(max_size=300))
def test_any_text_survives_the_round_trip(value: str) -> None:
    """TOML escaping by hand: whatever the text (quotes, backslashes, control characters,
    any Unicode), what is written reads back as the same text."""
    assert tomllib.loads(f"index = {toml_string(value)}")["index"] == value


@given(st.text(min_size=1, max_size=100), st.text(min_size=1, max_size=100))
def test_set_twice_keeps_the_last(first: str, second: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        set_value("index", first, path)
        written = set_value("index", second, path)
        assert read_config(path) == {"index": second}
        assert written.previous == first


@pytest.mark.parametrize(("created", "previous", "how", "undo"), [
    (True, None, "created it", "rm PATH"),
    (False, None, "other keys kept", 'delete the line `index = "segql-demo"` from PATH'),
    (False, "mine", "it was `mine`", 'set `index = "mine"` back in PATH'),
    (False, "segql-demo", "it was already so", "nothing (the file said so before the demo)"),
])
def test_the_demo_says_what_it_wrote_and_how_to_undo(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        created: bool, previous: str | None, how: str, undo: str) -> None:
    from segql.cli.demo import _remember
    from segql.userconfig import Written

    path = tmp_path / "config.toml"
    monkeypatch.setenv("SEGQL_INDEX", "")
    _remember("segql-demo", Written(path=path, created=created, previous=previous))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f'wrote `index = "segql-demo"` to {path} ({how}): every segql '
                        "command now uses the demo's index unless --index or $SEGQL_INDEX "
                        "says otherwise")
    assert lines[1] == "to undo: " + undo.replace("PATH", str(path))
    assert lines[2].startswith("next: ")
    monkeypatch.setenv("SEGQL_INDEX", "elsewhere")
    _remember("segql-demo", Written(path=path, created=created, previous=previous))
    assert ("note: $SEGQL_INDEX=elsewhere is set in this shell and comes first: `unset "
            "SEGQL_INDEX` to use the demo's index") in capsys.readouterr().out
