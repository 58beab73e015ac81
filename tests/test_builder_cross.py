"""The whole page, list and editor together, in a real headless Chromium against a real
`segql serve`: the README's first example built by clicking only has the count
`segql count` gives and the members of the same segment typed as text; changed in the
text, the builder follows and the list shows the new count; a type error is underlined."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from browser import Page, Site

pytestmark = pytest.mark.es

README = Path(__file__).resolve().parent.parent / "README.md"
#: The README's first example (its opening lines show it).
EXAMPLE = 'all(city starts_with "War", event MailOpen occurred)'
NAME = "Clicked Warsaw openers"


def segment_text(page: Page) -> str:
    return str(page.field("Segment text").get_attribute("value"))


def live_count(page: Page) -> int:
    output = page.find("output", "Live count")
    page.wait(lambda: output.get_attribute("data-state") == "done" or None, 20,
              "the live count")
    return int(str(output.get_attribute("data-count")))


def first_members(page: Page, name: str) -> tuple[str, list[str]]:
    """The Show panel of `name`: its position line and the ids of its first page."""
    page.click("button", f"Show members of {name}")
    panel = page.find("region", f"Members of {name}")
    status = page.wait_text(lambda: page.find("status", None, panel),
                            lambda text: text.startswith("Contacts 1 to "))
    ids = [cell.text for cell in panel.find_elements("xpath", ".//tbody/tr/td")]
    page.click("button", f"Show members of {name}")  # closed again
    return status, ids


def list_count(page: Page, name: str) -> str:
    row = page.row(name)
    cell = row.find_element("xpath", "./td[@data-label='Contacts']")
    return page.wait_text(lambda: cell, lambda text: text not in ("", "…"), 20)


def test_the_readme_example_built_by_clicking_then_edited_as_text(
        page: Page, demo_site: Site) -> None:
    assert EXAMPLE in README.read_text("utf-8").split("\n## ")[0]
    expected = demo_site.count(EXAMPLE)  # the CLI
    try:
        # from the list, by clicking only: a new segment, two conditions from the catalog
        page.open()
        page.click("link", "New segment", page.find("main"))
        page.click_war_openers()
        page.wait(lambda: segment_text(page) == EXAMPLE or None, 15, "the text of the build")
        assert live_count(page) == expected
        page.field("Name").send_keys(NAME)
        page.click("button", "Save")

        # back in the list: the count `segql count` gives, the members of the typed text
        assert list_count(page, NAME) == f"{expected:,}" == list_count(page, "Warsaw openers")
        clicked, typed = first_members(page, NAME), first_members(page, "Warsaw openers")
        assert clicked == typed
        assert clicked[0].endswith(f"of {expected:,}.")
        exported = demo_site.export_ids(EXAMPLE)
        assert clicked[1] == sorted(exported)[:20]
        assert demo_site.export_ids("--segment", NAME) == exported

        # changed in the text: the builder follows, and so does the list after saving
        changed = 'all(city starts_with "War", event MailOpen occurred, vip is_true)'
        page.click("link", f"Edit {NAME}")
        page.wait(lambda: segment_text(page) == EXAMPLE or None, 15, "the saved text")
        text = page.field("Segment text")
        text.send_keys(Keys.CONTROL, "a")
        text.send_keys(changed)
        page.wait(lambda: page.field("Field of condition 3 in Segment 1")
                  .get_attribute("value") == "vip" or None, 15, "the builder's third row")
        assert page.field("Operator of condition 3 in Segment 1").get_attribute(
            "value") == "is_true"
        assert page.field("Event of condition 2 in Segment 1").get_attribute(
            "value") == "MailOpen"
        narrowed = demo_site.count(changed)
        assert live_count(page) == narrowed
        page.click("button", "Save")
        # the same members as the saved segment that says it through in_segment
        assert list_count(page, NAME) == f"{narrowed:,}" == list_count(page,
                                                                      "Warsaw VIP openers")
        assert first_members(page, NAME) == first_members(page, "Warsaw VIP openers")

        # a type error: underlined where it is, and nothing saved
        page.click("link", f"Edit {NAME}")
        page.wait(lambda: segment_text(page) == changed or None, 15, "the saved text")
        text = page.field("Segment text")
        text.send_keys(Keys.CONTROL, "a")
        text.send_keys('all(city starts_with "War", age starts_with "3")')
        mark = page.wait(lambda: next(iter(page.all("[data-problem]")), None), 15,
                         "an underlined problem")
        assert mark.get_attribute("textContent") == 'age starts_with "3"'
        assert (mark.get_attribute("data-line"), mark.get_attribute("data-column")) == (
            "1", "29")
        assert "does not apply to number field `age`" in str(mark.get_attribute("title"))
        assert page.field("Segment text").get_attribute("aria-invalid") == "true"
        line, style = page.driver.execute_script(
            "const s = getComputedStyle(arguments[0]);"
            "return [s.textDecorationLine, s.textDecorationStyle]", mark)
        assert (line, style) == ("underline", "wavy")
        box, at = page.field("Segment text").rect, mark.rect  # drawn over the text itself
        assert box["x"] <= at["x"] < box["x"] + box["width"]
        assert box["y"] <= at["y"] < box["y"] + box["height"]
        page.click("button", "Cancel")
        assert list_count(page, NAME) == f"{narrowed:,}"
    finally:
        demo_site.service.client(demo_site.account, "write").delete(
            f"/v1/accounts/{demo_site.account}/segments/{NAME}")
