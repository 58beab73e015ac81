"""Shards and replicas of the indices segql creates (stores/index_settings.py): the values
an option or the environment may give, their precedence, the settings they become, and —
on the test node, a single node — that the defaults leave it green with 0 replicas while
asking for one more as soon as a second node joins (auto_expand_replicas 0-1).

`segql index` runs with the test's credentials (the write key in CI's API-key run: its
`view_index_metadata` reads the settings, its cluster `monitor` the health); deleting the
indices afterwards is housekeeping (`admin`, tests/support/housekeeping.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql import sample
from segql.errors import InputError
from segql.stores.catalogs import catalog_index_name
from segql.stores.checkpoints import checkpoint_index_name
from segql.stores.index_settings import (
    REPLICAS_ENV,
    SHARDS_ENV,
    contact_index_settings,
    parse_replicas,
    parse_shards,
    replicas_of,
    store_index_settings,
)
from segql.stores.mapping import account_store_body, index_body

SEGQL = str(Path(sys.executable).with_name("segql"))


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), (" 3 ", 3), ("1024", 1024),
    ("0", None), ("-1", None), ("1025", None), ("two", None), ("", None), ("1.5", None),
])
def test_shards_values(text: str, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(InputError, match="--shards must be a whole number"):
            parse_shards(text)
    else:
        assert parse_shards(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("auto", "auto"), ("AUTO", "auto"), ("0", 0), ("1", 1), ("10", 10),
    ("11", None), ("-1", None), ("0-1", None), ("all", None), ("", None),
])
def test_replicas_values(text: str, expected: int | str | None) -> None:
    if expected is None:
        with pytest.raises(InputError, match="--replicas must be `auto` or a number"):
            parse_replicas(text)
    else:
        assert parse_replicas(text) == expected


@pytest.mark.parametrize(("env", "shards", "replicas", "expected"), [
    ({}, None, None, {"number_of_shards": 1, "auto_expand_replicas": "0-1"}),
    ({SHARDS_ENV: "3"}, None, None, {"number_of_shards": 3, "auto_expand_replicas": "0-1"}),
    ({SHARDS_ENV: "3", REPLICAS_ENV: "2"}, None, None,
     {"number_of_shards": 3, "number_of_replicas": 2, "auto_expand_replicas": False}),
    ({SHARDS_ENV: "3", REPLICAS_ENV: "2"}, 5, "auto",
     {"number_of_shards": 5, "auto_expand_replicas": "0-1"}),
    ({REPLICAS_ENV: "auto"}, 2, 0,
     {"number_of_shards": 2, "number_of_replicas": 0, "auto_expand_replicas": False}),
])
def test_option_over_environment_over_default(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], shards: int | None,
    replicas: int | str | None, expected: dict[str, Any],
) -> None:
    for name in (SHARDS_ENV, REPLICAS_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert contact_index_settings(shards, replicas) == expected  # type: ignore[arg-type]
    settings = index_body(shards, replicas)["settings"]  # type: ignore[arg-type]
    assert {key: settings[key] for key in expected} == expected
    # a store has one shard whatever the contact index has, and the same replicas
    store = store_index_settings(replicas)  # type: ignore[arg-type]
    assert store == {**expected, "number_of_shards": 1}
    assert account_store_body({}, replicas)["settings"] == store  # type: ignore[arg-type]
    assert replicas_of(expected) == replicas_of(store)


def test_a_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REPLICAS_ENV, "many")
    with pytest.raises(InputError, match=f"{REPLICAS_ENV} must be `auto`"):
        contact_index_settings()


@pytest.mark.es
def test_defaults_on_one_node_are_green_with_no_replica(
    es: Elasticsearch, es_url: str, index_name: str, tmp_path: Path,
) -> None:
    """`segql index` with the defaults: the contact index, its catalog and checkpoints
    auto-expand 0-1, which on one node is 0 replicas and green."""
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(sample.dumps(r) for r in sample.generate(contacts=20, seed=5))
                    + "\n")
    env = {k: v for k, v in os.environ.items() if k not in (SHARDS_ENV, REPLICAS_ENV)}
    run = subprocess.run([SEGQL, "index", str(path), "--index", index_name, "--rejects",
                          str(tmp_path / "rejects.jsonl")], capture_output=True, text=True,
                         env={**env, "ELASTICSEARCH_URL": es_url}, check=False, timeout=300)
    assert run.returncode == 0, run.stderr
    indices = [index_name, catalog_index_name(index_name), checkpoint_index_name(index_name)]
    try:
        for index in indices:
            found = es.indices.get_settings(index=index)[index]["settings"]["index"]
            assert (found["number_of_shards"], found["auto_expand_replicas"],
                    found["number_of_replicas"]) == ("1", "0-1", "0"), index
            health = es.cluster.health(index=index, wait_for_status="green", timeout="30s")
            assert health["status"] == "green"
    finally:
        admin(es).options(ignore_status=404).indices.delete(index=",".join(indices[1:]),
                                                            ignore_unavailable=True)


@pytest.mark.es
def test_index_options_make_the_index_and_bad_ones_exit_2(
    es: Elasticsearch, es_url: str, index_name: str, tmp_path: Path,
) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps({"type": "contact", "account": "acme", "id": "c1"}) + "\n")
    env = {**os.environ, "ELASTICSEARCH_URL": es_url}
    for option, value, message in (("--shards", "0", "--shards must be a whole number"),
                                   ("--replicas", "two", "--replicas must be `auto`")):
        bad = subprocess.run([SEGQL, "index", str(path), "--index", index_name, option,
                              value], capture_output=True, text=True, env=env, check=False,
                             timeout=120)
        assert (bad.returncode, message in bad.stderr) == (2, True), bad.stderr
        assert not es.indices.exists(index=index_name)
    run = subprocess.run([SEGQL, "index", str(path), "--index", index_name, "--shards", "2",
                          "--replicas", "0", "--rejects", str(tmp_path / "r.jsonl")],
                         capture_output=True, text=True, env=env, check=False, timeout=300)
    assert run.returncode == 0, run.stderr
    try:
        for index, shards in ((index_name, "2"), (catalog_index_name(index_name), "1"),
                              (checkpoint_index_name(index_name), "1")):
            found = es.indices.get_settings(index=index)[index]["settings"]["index"]
            assert (found["number_of_shards"], found["number_of_replicas"],
                    found.get("auto_expand_replicas", "false")) == (shards, "0", "false")
    finally:
        admin(es).options(ignore_status=404).indices.delete(
            index=f"{catalog_index_name(index_name)},{checkpoint_index_name(index_name)}",
            ignore_unavailable=True)
