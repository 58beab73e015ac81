"""The architecture, enforced: imports between segql's parts run one way
(docs/architecture.md), and no module of the package outgrows one reading.

Every `import` of every module of the package is read from the source (top level,
inside functions and under TYPE_CHECKING alike) and checked against the table below: a
part may import itself and the parts it lists, nothing else of segql.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

_BASE = {"segql.errors", "segql.values"}
#: What each part of the package may import (besides itself and the standard library).
ALLOWED: dict[str, set[str]] = {
    "segql.errors": set(),
    "segql.values": set(),
    "segql.data": set(),
    # the per-user configuration file: read by the api (the contact index)
    "segql.userconfig": {"segql.errors"},
    "segql.grammar": _BASE,
    "segql.contract": _BASE,
    "segql.localnode": _BASE,
    "segql.sample": _BASE | {"segql.data"},
    "segql.compiler": _BASE | {"segql.grammar", "segql.contract"},
    "segql.stores": _BASE | {"segql.grammar", "segql.contract", "segql.compiler",
                             "segql.localnode"},
    "segql.indexer": _BASE | {"segql.grammar", "segql.contract", "segql.compiler",
                              "segql.stores"},
    # other builders' JSON (react-querybuilder, jQuery QueryBuilder) ⇄ segql's JSON form
    "segql.interop": _BASE | {"segql.grammar", "segql.compiler"},
    "segql.api": _BASE | {"segql.grammar", "segql.contract", "segql.compiler",
                          "segql.stores", "segql.indexer", "segql.interop",
                          "segql.userconfig"},
    # the package root re-exports the API
    "segql": _BASE | {"segql.api", "segql.compiler", "segql.stores"},
    "segql.cli": {"segql.*"},
    # the HTTP service: a thin shell over the API, like the CLI
    "segql.service": _BASE | {"segql.api", "segql.grammar", "segql.contract", "segql.compiler",
                              "segql.stores", "segql.indexer", "segql.interop"},
}
#: No module of the package is longer than this (generated files aside).
MAX_LINES = 450


def _package_dirs() -> dict[str, Path]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {package: REPO / folder for package, folder in mapping.items()}


def package_modules() -> dict[str, Path]:
    """Every module of the package: dotted name → source file."""
    modules: dict[str, Path] = {}
    for package, folder in _package_dirs().items():
        for path in sorted(folder.glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def part_of(module: str) -> str:
    """The part of the architecture a module belongs to: the longest key of ALLOWED
    that is the module or a package above it."""
    candidates = [p for p in ALLOWED if module == p or module.startswith(p + ".")]
    return max(candidates, key=len) if candidates else module


def imported(source: str) -> list[tuple[int, str]]:
    """(line, module) of every segql import in a module's source."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "segql":  # `from segql import api`: the names are modules
                found += [(node.lineno, f"segql.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "segql" or
            name.startswith("segql.")]


def violations(module: str, source: str) -> list[str]:
    """The wrong-way imports of one module, as `module:line imports target`."""
    own = part_of(module)
    allowed = ALLOWED.get(own, set())
    wrong = []
    for line, target in imported(source):
        theirs = part_of(target)
        if theirs == own or "segql.*" in allowed or theirs in allowed:
            continue
        wrong.append(f"{module}:{line} imports {target} ({own} may import "
                     f"{', '.join(sorted(allowed)) or 'nothing of segql'})")
    return wrong


def test_every_module_belongs_to_a_part() -> None:
    modules = package_modules()
    assert len(modules) > 40
    unknown = sorted(m for m in modules if part_of(m) not in ALLOWED)
    assert not unknown, f"modules outside the architecture table: {unknown}"


def test_imports_run_one_way() -> None:
    wrong = [v for name, path in package_modules().items()
             for v in violations(name, path.read_text("utf-8"))]
    assert not wrong, "wrong-way imports:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("segql.compiler.check", "from segql.indexer.records import Reject", 1),
    ("segql.compiler.check", "import segql.stores.catalogs", 1),
    ("segql.contract.document", "from segql.compiler.catalog import Catalog", 1),
    ("segql.grammar.parser", "def f():\n    from segql.api import count\n", 1),
    ("segql.stores.catalogs", "from segql import api", 1),
    ("segql.indexer.records", "from segql.cli.main import main", 1),
    ("segql.compiler.check", "from segql.compiler.context import Context\n"
                             "from segql.grammar import ast\n"
                             "from segql.contract.contact import Contact", 0),
    ("segql.cli.main", "from segql.indexer.records import Reject", 0),
    ("segql.api", "from segql.stores.catalogs import CatalogStore", 0),
])
def test_the_check_catches_a_wrong_way_import(module: str, source: str,
                                              expected: int) -> None:
    assert len(violations(module, source)) == expected


def test_no_module_is_too_long() -> None:
    long = {name: n for name, path in package_modules().items()
            if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
