"""The builder page in a real headless Chromium (tests/support/browser.py) against a
real `segql serve`: the segment list with live counts and reach (equal to `segql count`),
search, Show (the members `segql export` gives), a refused delete with its reason, a
delete, explain, tokens and --no-auth, labelled controls and a narrow window."""

from __future__ import annotations

import json

import httpx
import pytest
from elasticsearch import Elasticsearch
from selenium.webdriver.support.select import Select

from browser import ACCOUNT, SEGMENTS, Page, Site
from service import running_service

pytestmark = pytest.mark.es

COLUMNS = ("Contacts", "Email", "SMS", "Push")


def saved_names(site: Site) -> set[str]:
    return {segment["name"] for segment in site.api("GET", "segments?counts=false")}


def cells(page: Page, name: str) -> dict[str, str]:
    """The row of `name`: its numbers by column, once the reach has arrived."""
    row = page.row(name)
    def numbers() -> dict[str, str] | None:
        found = {column: page.text(row.find_element(
            "xpath", f"./td[@data-label='{column}']")) for column in COLUMNS}
        return None if any(value in ("…", "") for value in found.values()) else found
    return page.wait(numbers, 20, f"the counts of {name!r}")


def test_the_list_shows_every_segment_with_the_counts_segql_count_gives(
        page: Page, demo_site: Site) -> None:
    page.open()
    listed = {item["name"]: item for item in json.loads(demo_site.cli("segment", "list",
                                                                      "--json"))}
    assert set(listed) == set(SEGMENTS)
    for name, (expression, description) in SEGMENTS.items():
        numbers = cells(page, name)
        reach = demo_site.reach(expression)
        assert numbers == {"Contacts": f"{listed[name]['count']:,}",
                           "Email": f"{reach['email']:,}", "SMS": f"{reach['sms']:,}",
                           "Push": f"{reach['push']:,}"}, name
        assert listed[name]["count"] > 0
        if description:
            assert description in page.text(page.row(name))
    assert page.find("link", "New segment", within=page.find("main"))


@pytest.mark.parametrize(("typed", "shown"), [
    ("warsaw", {"Warsaw openers", "Warsaw VIP openers"}),
    ("VIP", {"Warsaw VIP openers", "VIPs who never bought"}),
    ("kraków", {"Gmail or Kraków"}),
    ("no such segment", set()),
])
def test_search_filters_by_name(page: Page, typed: str, shown: set[str]) -> None:
    page.open()
    page.row("Warsaw openers")
    page.field("Search by name").send_keys(typed)
    status = page.wait_text(lambda: page.find("status", None, page.find("main")),
                            lambda text: ("contains" in text) and typed in text)
    names = {page.text(row.find_element("xpath", "./th")) for row in page.all("row")
             if row.find_elements("xpath", "./th[@scope='row']")}
    assert names == shown, status


def test_show_lists_the_members_segql_export_gives(page: Page, demo_site: Site) -> None:
    name = "Warsaw VIP openers"
    exported = demo_site.export_ids("--segment", name)
    assert 20 < len(exported) < 100  # more than one page of 20
    page.open()
    page.click("button", f"Show members of {name}")
    panel = page.find("region", f"Members of {name}")
    page.wait_text(lambda: page.find("status", None, panel),
                   lambda text: text.startswith("Contacts 1 to "))
    seen: list[str] = []
    while True:
        status = page.text(page.find("status", None, panel))
        seen += [cell.text for cell in panel.find_elements("xpath", ".//tbody/tr/td")]
        assert status.endswith(f"of {len(exported)}.")
        following = page.find("button", f"Next page of {name}", panel)
        if not following.is_enabled():
            break
        following.click()
        start = f"Contacts {len(seen) + 1} to "
        page.wait_text(lambda: page.find("status", None, panel),
                       lambda text: text.startswith(start))  # noqa: B023 (waited for here)
    assert seen == sorted(exported)
    # one channel's addresses: the rows `segql export --channel email` gives
    csv_rows = demo_site.cli("export", "--segment", name, "--channel", "email",
                             "--format", "csv").splitlines()[1:]
    expected = {tuple(line.split(",", 1)) for line in csv_rows}
    Select(page.field("Addresses", panel)).select_by_visible_text("email")
    rows: set[tuple[str, ...]] = set()
    number = 1  # a page has 20 contacts, but fewer rows when consent leaves some out
    while True:
        page.wait_text(lambda: page.find("status", None, panel),
                       lambda text: text.startswith(f"Page {number}:"))  # noqa: B023
        for tr in panel.find_elements("xpath", ".//tbody/tr"):
            rows.add(tuple(td.text for td in tr.find_elements("css selector", "td")))
        following = page.find("button", f"Next page of {name}", panel)
        if not following.is_enabled():
            break
        following.click()
        number += 1
    assert rows == expected
    page.click("button", f"Show members of {name}")  # Hide: same control, expanded
    assert not page.all("region", f"Members of {name}")


def test_deleting_a_referenced_segment_is_refused_with_its_reason(
        page: Page, demo_site: Site) -> None:
    page.expect_status(409)
    page.open()
    page.click("button", "Delete Warsaw openers")
    page.click("button", "Delete for good", page.find("region", "Delete Warsaw openers"))
    reason = page.wait_text(lambda: page.find("alert", None,
                                              page.find("region", "Delete Warsaw openers")),
                            bool)
    assert reason == ("Not deleted: segment 'Warsaw openers' is used by 'Warsaw VIP "
                      "openers': change or delete those first")
    assert page.row("Warsaw openers")
    assert "Warsaw openers" in saved_names(demo_site)
    page.click("button", "Keep it")
    assert not page.all("region", "Delete Warsaw openers")


def test_deleting_a_segment_nobody_refers_to(page: Page, demo_site: Site) -> None:
    demo_site.api("POST", "segments", {"name": "Scratch 1", "text": "age > 90"})
    page.open()
    page.click("button", "Delete Scratch 1")
    page.click("button", "Delete for good")
    page.wait_text(lambda: page.find("status", None, page.find("main")),
                   lambda text: text == f"{len(SEGMENTS)} segments.")
    assert "Scratch 1" not in saved_names(demo_site)
    assert page.text(page.find("status", "Messages")) == "Deleted segment Scratch 1."


def explained(page: Page) -> list[str]:
    tree = page.find("tree", "Condition tree")
    return [" ".join(item.find_element("css selector", ":scope > span").text.split())
            for item in tree.find_elements("css selector", "li")]


def test_explain_shows_true_false_per_condition_and_n(page: Page, demo_site: Site) -> None:
    name = "Warsaw VIP openers"
    contact = demo_site.api("GET", f"segments/{name}/members?size=1")["members"][0][
        "contact_id"]
    cli = json.loads(demo_site.cli("explain", "--segment", name, "--contact", contact,
                                   "--json"))
    page.open(f"#/explain?segment={name.replace(' ', '%20')}")
    page.field("Contact id").send_keys(contact)
    page.wait(lambda: page.field("Saved segment").get_attribute("value") == name or None,
              message="the saved segment chosen")
    page.click("button", "Explain")
    lines = page.wait(lambda: explained(page) or None)

    def flat(node: dict[str, object]) -> list[dict[str, object]]:
        return [node, *(n for child in node["children"] for n in flat(child))]  # type: ignore[attr-defined]
    nodes = flat(cli["tree"])
    assert len(lines) == len(nodes)
    for line, node in zip(lines, nodes, strict=True):
        assert line.startswith("true " if node["result"] else "false ")
        if "count" in node:
            assert f"n = {node['count']}" in line
    assert any("event MailOpen occurred n = " in line for line in lines)
    assert page.text(page.find("main")).count(f"Contact {contact} is in the segment.") == 1

    # typed text, a contact outside it: the failing condition is false
    page.go("#/explain")
    page.field("Contact id").send_keys("c000001")  # lives in Berlin
    page.field("or segment text").send_keys(SEGMENTS["Warsaw openers"][0])
    page.click("button", "Explain")
    lines = page.wait(lambda: explained(page) or None)
    assert lines[0] == "false all of"
    assert 'false city starts_with "War"' in lines
    assert "Contact c000001 is not in the segment." in page.text(page.find("main"))


def test_a_token_is_asked_for_and_a_wrong_one_refused(page: Page) -> None:
    page.expect_status(401)
    page.open(token="")
    assert page.find("h2", "API token needed")
    assert page.driver.switch_to.active_element == page.field("API token")
    page.field("API token").send_keys("segql_wrong")
    page.click("button", "Use")
    alert = page.wait_text(lambda: page.find("alert", None), bool)
    assert alert.startswith("The token is not valid")
    page.open()  # the right one
    assert page.row("Warsaw openers")


def test_no_auth_serves_the_page_without_a_token(page: Page, demo_site: Site,
                                                es: Elasticsearch, es_url: str) -> None:
    with running_service(es, es_url, no_auth=True, index=demo_site.index,
                         cleanup=False) as open_service:
        page.driver.get(f"{open_service.url}/?account={ACCOUNT}#/")
        assert page.field("API token").get_attribute("value") == ""
        numbers = cells(page, "Warsaw openers")
        reach = demo_site.reach(SEGMENTS["Warsaw openers"][0])
        assert numbers["Contacts"] == f"{reach['total']:,}"


def test_a_read_token_shows_everything_and_its_delete_is_refused_with_the_reason(
        page: Page, demo_site: Site) -> None:
    page.expect_status(403)
    page.open(token=demo_site.token("read"))
    assert cells(page, "Gmail or Kraków")["Contacts"] != "—"
    page.click("button", "Delete Gmail or Kraków")
    page.click("button", "Delete for good")
    reason = page.wait_text(lambda: page.find("alert", None,
                                              page.find("region", "Delete Gmail or Kraków")),
                            bool)
    assert reason.startswith("This token may only read")
    assert "Gmail or Kraków" in saved_names(demo_site)


@pytest.mark.parametrize(("path", "status", "media"), [
    ("/", 200, "text/html"),
    ("/ui/api.js", 200, "text/javascript"),
    ("/ui/style.css", 200, "text/css"),
    ("/ui-config", 200, "application/json"),
    ("/ui/no-such-file.js", 404, "application/problem+json"),
    ("/ui/../server.py", 404, "application/problem+json"),
    ("/ui/%2e%2e/server.py", 404, "application/problem+json"),
])
def test_the_page_files_over_http(demo_site: Site, path: str, status: int,
                                  media: str) -> None:
    """The files ship in the package and need no token; nothing outside static/."""
    reply = httpx.get(demo_site.url + path, timeout=30)
    assert (reply.status_code, reply.headers["content-type"].split(";")[0]) == (status,
                                                                                 media)
    if status == 200 and path != "/ui-config":
        assert "script-src 'self'" in reply.headers["content-security-policy"]
        assert reply.headers["cache-control"] == "no-cache"
    if path == "/ui-config":
        assert reply.json() == {"auth": True}
