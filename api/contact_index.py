"""Which contact index a command reads, and whether it can be one: the name (option, then
`$SEGQL_INDEX`, then the user's configuration file, then `segql-contacts`), the rules a
name must follow, one index behind it (never several: an export must never send a contact
twice), and whether an account has anything in it (`account_known`).

Every CLI command that takes `--index`, and `segql serve` at startup, goes through
`contact_index` once per process (the service keeps the answer in its settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import ConnectionError as Unreachable
from elasticsearch import ConnectionTimeout, Elasticsearch, NotFoundError

from segql.errors import InputError, SegqlError
from segql.stores import searches
from segql.stores.catalogs import CATALOG_SUFFIX, catalog_index_name
from segql.stores.checkpoints import CHECKPOINT_SUFFIX
from segql.stores.connection import redact
from segql.stores.saved_segments import SEGMENTS_SUFFIX
from segql.stores.tokens import TOKENS_SUFFIX
from segql.userconfig import Setting, config_path, lookup

DEFAULT_INDEX = "segql-contacts"
INDEX_ENV = "SEGQL_INDEX"
#: The stores segql keeps beside a contact index `x`, as `x<suffix>`.
STORE_SUFFIXES = {
    CATALOG_SUFFIX: "the account catalogs",
    SEGMENTS_SUFFIX: "the saved segments",
    CHECKPOINT_SUFFIX: "the indexer's checkpoints",
    TOKENS_SUFFIX: "the API tokens",
}
#: Characters Elasticsearch refuses in an index name (`,` and `*` are refused earlier,
#: as several indices).
_FORBIDDEN = '\\/?"<>|#: '
_MAX_BYTES = 255
#: Known accounts a warning lists.
_KNOWN_SHOWN = 10


class IndexTargetError(InputError):
    """The contact index given can't be one: several indices, an invalid name, a store
    of segql (exit 2)."""


class NoContactIndexError(SegqlError):
    """No index of that name on the cluster (exit 1: load contacts first)."""


def index_setting(option: str | None = None) -> Setting:
    """The contact index and where it came from: `option` (`--index`), `$SEGQL_INDEX`,
    `index` of the configuration file, or the default `segql-contacts`."""
    return lookup("index", INDEX_ENV, DEFAULT_INDEX, option)


def index_name() -> str:
    """The contact index when no `--index` is given: `$SEGQL_INDEX`, else `index` of the
    configuration file (`segql demo` writes it), else `segql-contacts`."""
    return index_setting().value


def _origin(setting: Setting) -> str:
    if setting.origin == "option":
        return ""
    if setting.defaulted:
        return (f" (the default: no --index, no ${INDEX_ENV} and no `index` in "
                f"{config_path()})")
    return f" (from {setting.origin})"


def index_name_problem(name: str) -> str | None:
    """Why `name` can't be a contact index, by Elasticsearch's rules and segql's, without
    asking the cluster; None if it can."""
    if "," in name:
        return ("a comma list names several indices; segql reads one contact index (a "
                "contact in two would be counted and exported twice)")
    if "*" in name or name == "_all":
        return ("a wildcard may match several indices; segql reads one contact index (a "
                "contact in two would be counted and exported twice): name it, or an "
                "alias of exactly one index")
    if not name:
        return "an index name can't be empty"
    if name != name.lower():
        return "index names are lowercase"
    bad = sorted({ch for ch in name if ch in _FORBIDDEN})
    if bad:
        shown = ", ".join("a space" if ch == " " else f"`{ch}`" for ch in bad)
        return (f"index names can't contain {shown} (none of \\ / * ? \" < > | , # : or a "
                "space)")
    if name[0] in "-_+":
        return "index names can't start with -, _ or +"
    if name in (".", ".."):
        return "an index name can't be . or .."
    if len(name.encode("utf-8")) > _MAX_BYTES:
        return f"index names are at most {_MAX_BYTES} bytes"
    for suffix, what in STORE_SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return (f"it is where segql keeps {what} of the contact index "
                    f"`{name[: -len(suffix)]}`, not a contact index; give "
                    f"`{name[: -len(suffix)]}`")
    return None


def cluster_url(es: Elasticsearch) -> str:
    """The URL `es` talks to, without credentials, for messages."""
    nodes = list(es.transport.node_pool.all())
    return redact(str(nodes[0].base_url)) if nodes else "the cluster"


def contact_index(es: Elasticsearch, index: str | None = None, *,
                  must_exist: bool = True) -> str:
    """The one contact index a command reads: `index` (the option), else `index_name()`,
    checked by name (`index_name_problem`, exit 2) and on the cluster (one request): an alias
    must point at exactly one index (exit 2); a missing index is `NoContactIndexError`
    (exit 1) when `must_exist` (commands that read contacts), else fine (it is created
    by the first write). A writer (`must_exist=False`) is not failed here by a cluster it
    can't reach: it waits for it (`segql index --max-wait`), with the name checked."""
    setting = index_setting(index)
    name = setting.value
    problem = index_name_problem(name)
    if problem:
        raise IndexTargetError(f"can't use `{name}` as the contact index{_origin(setting)}: "
                               f"{problem}")
    try:
        found: dict[str, Any] = dict(es.indices.resolve_index(name=name))
    except NotFoundError:
        if not must_exist:
            return name
        raise NoContactIndexError(
            f"no contact index `{name}`{_origin(setting)} on {cluster_url(es)}: load "
            f"contacts with `segql index FILE --index {name}`") from None
    except (Unreachable, ConnectionTimeout):
        if not must_exist:
            return name
        raise
    for alias in found.get("aliases") or []:
        behind = list(alias.get("indices") or [])
        if len(behind) != 1:
            listed = ", ".join(f"`{i}`" for i in behind[:5]) + (", …" if len(behind) > 5
                                                                else "")
            raise IndexTargetError(
                f"can't use `{name}` as the contact index{_origin(setting)}: it is an alias "
                f"of {len(behind)} indices ({listed}); segql reads one contact index (a "
                "contact in two would be counted and exported twice): give one of them, or "
                "an alias of exactly one")
    if found.get("data_streams"):
        raise IndexTargetError(f"can't use `{name}` as the contact index{_origin(setting)}: "
                               "it is a data stream, not an index of contact documents")
    for entry in found.get("indices") or []:
        if "closed" in (entry.get("attributes") or []):
            raise NoContactIndexError(f"the contact index `{entry.get('name')}` on "
                                      f"{cluster_url(es)} is closed: open it first")
    return name


@dataclass(frozen=True)
class AccountCheck:
    """Whether an account has contacts or a catalog in a contact index, and some accounts
    that do (by contacts, at most 10), for a warning about a misspelt account."""

    account: str
    index: str
    url: str
    known: bool
    accounts: tuple[str, ...] = ()
    #: Known accounts spelt like `account` in another case.
    other_case: tuple[str, ...] = ()

    def warning(self) -> str | None:
        """The warning for an unknown account; None for a known one."""
        if self.known:
            return None
        text = (f"account `{self.account}` has no contacts and no catalog in index "
                f"`{self.index}` on {self.url}; accounts are case-sensitive")
        if self.other_case:
            text += " — did you mean " + " or ".join(f"`{a}`" for a in self.other_case) + "?"
        if self.accounts:
            text += (" Known" if self.other_case else " — known") + " accounts include: "
            text += ", ".join(self.accounts)
        else:
            text += " — the index has no accounts at all"
        return text


def account_known(es: Elasticsearch, account: str, index: str | None = None) -> AccountCheck:
    """Whether `account` has contacts in the contact index or a catalog beside it, with a
    few accounts that do: one search of size 0 over both (filter and terms
    aggregations). Cheap, but not free on a large index: the CLI asks only when a result
    came back empty."""
    contacts = index or index_name()
    response = searches.search(
        es, index=f"{contacts},{catalog_index_name(contacts)}", ignore_unavailable=True, size=0,
        track_total_hits=False,
        aggs={"this": {"filter": {"term": {"account": account}}},
              "other_case": {"filter": {"term": {"account": {
                  "value": account, "case_insensitive": True}}},
                  "aggs": {"names": {"terms": {"field": "account", "size": 3}}}},
              "accounts": {"terms": {"field": "account", "size": _KNOWN_SHOWN}}})
    aggs = response.get("aggregations") or {}
    known = int(aggs.get("this", {}).get("doc_count", 0)) > 0
    names = tuple(b["key"] for b in aggs.get("accounts", {}).get("buckets", []))
    other = tuple(b["key"] for b in aggs.get("other_case", {}).get("names", {})
                  .get("buckets", []) if b["key"] != account)
    return AccountCheck(account=account, index=contacts, url=cluster_url(es), known=known,
                        accounts=names, other_case=other)
