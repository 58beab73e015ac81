"""The per-user configuration file: settings every `segql` command (and `segql serve`)
reads when neither the command line nor the environment gives them.

Where: `$SEGQL_CONFIG` if set, else `$XDG_CONFIG_HOME/segql/config.toml`, else
`~/.config/segql/config.toml`. What: a TOML file of top-level string keys (`KEYS`), e.g.

    index = "segql-demo"

(no cluster URL: `$ELASTICSEARCH_URL` or the managed node, which segql finds on whatever
port it was started, say which cluster — `segql.stores.connection`).

Precedence, highest first: the command-line option, the environment variable, this file,
the built-in default (`lookup` says which one a value came from, for messages). `segql
demo` writes `index` here with `set_value`, which changes that one line and keeps every
other line (and comment) of the file as it was. Imports nothing of segql but errors.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from segql.errors import InputError

CONFIG_ENV = "SEGQL_CONFIG"
#: The keys the file may hold, and what each is.
KEYS = {
    "index": "the contact index (like $SEGQL_INDEX or --index)",
}
#: A top-level `key = ...` line (TOML bare keys; quoted keys are not written by segql).
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_TABLE_LINE = re.compile(r"^\s*\[")


class ConfigError(InputError):
    """The configuration file can't be read as segql's configuration (exit 2)."""


@dataclass(frozen=True)
class Setting:
    """A setting's value and where it came from: `option`, `$NAME` of the environment
    variable, the configuration file's path, or `default`."""

    value: str
    origin: str

    @property
    def defaulted(self) -> bool:
        return self.origin == "default"


def config_path() -> Path:
    """Where the configuration file is (whether or not it exists)."""
    explicit = os.environ.get(CONFIG_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "segql" / "config.toml"


def read_config(path: Path | None = None) -> dict[str, str]:
    """The file's settings; {} when there is no file. A file that is not TOML, holds an
    unknown key or a value that is not a string is an input error naming the file."""
    path = path or config_path()
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"can't read the configuration file {path}: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"the configuration file {path} is not valid TOML: {error}") from None
    for key, value in data.items():
        if key not in KEYS:
            raise ConfigError(f"the configuration file {path} has an unknown key `{key}`; "
                              f"known keys: {', '.join(KEYS)}")
        if not isinstance(value, str):
            raise ConfigError(f"the configuration file {path}: `{key}` must be a string "
                              f"in double quotes, e.g. {key} = \"...\"")
    return data


def lookup(key: str, env: str, default: str, option: str | None = None) -> Setting:
    """A setting by precedence: `option` (the command line), `$env`, the file, `default`.
    An empty environment variable counts as unset."""
    if option:
        return Setting(option, "option")
    from_env = os.environ.get(env, "").strip()
    if from_env:
        return Setting(from_env, f"${env}")
    path = config_path()
    value = read_config(path).get(key)
    if value:
        return Setting(value, str(path))
    return Setting(default, "default")


def toml_string(value: str) -> str:
    """`value` as a TOML basic string: quotes, backslashes and control characters
    escaped."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class Written:
    """What `set_value` did: the file, whether it created it, and the key's value before
    (None if the key was not there)."""

    path: Path
    created: bool
    previous: str | None


def set_value(key: str, value: str, path: Path | None = None) -> Written:
    """Set `key` to `value` in the configuration file, creating the file (and its folder)
    if needed. Only that key's line changes: every other line, comment and table stays as
    it was. The new text is parsed before it replaces the file (atomically), to prove it
    holds `value` and nothing else changed."""
    if key not in KEYS:
        raise ValueError(f"unknown configuration key {key!r}")
    path = path or config_path()
    current = read_config(path)  # refuses to rewrite a file it can't understand
    created = not path.exists()
    # lines split at \n only: TOML's line ends (str.splitlines would also split at
    # characters a TOML string may hold, such as U+2028)
    lines = [] if created else path.read_text("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    line = f"{key} = {toml_string(value)}"
    top = next((i for i, text in enumerate(lines) if _TABLE_LINE.match(text)), len(lines))
    found = [i for i in range(top) if (m := _KEY_LINE.match(lines[i])) and m[1] == key]
    if found:
        lines[found[0]] = line
    else:
        lines.insert(top, line)
    text = "\n".join(lines) + "\n"
    try:
        proved = tomllib.loads(text) == {**current, key: value}
    except tomllib.TOMLDecodeError:
        proved = False
    if not proved:  # e.g. the key written quoted, or inside a multi-line string
        raise ConfigError(f"could not set `{key}` in {path} without changing anything "
                          f"else: edit the file by hand ({line})")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Written(path=path, created=created, previous=current.get(key))
