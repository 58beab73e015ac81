"""The segment editor of the builder page (service/static/editor.js) in a real headless
Chromium against a real `segql serve` (tests/support/browser.py): a segment built by
clicking has the text and the count `segql count` gives for that text, and the members
`segql export` gives; typed text moves the builder; problems are underlined at their
columns; one condition is made with the keyboard alone; a narrow window still works."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from browser import Page, Site

pytestmark = pytest.mark.es
CHANNELS = ("email", "sms", "push")


def text_of(page: Page) -> WebElement:
    return page.field("Segment text")


def wait_text(page: Page, expected: str) -> None:
    try:
        page.wait(lambda: text_of(page).get_attribute("value") == expected, 15)
    except TimeoutException:
        shown = text_of(page).get_attribute("value")
        raise AssertionError(f"the segment text is {shown!r}, not {expected!r}") from None


def live_count(page: Page) -> tuple[int, dict[str, int]]:
    """The editor's count and reach once counted (data-state="done")."""
    output = page.find("output", "Live count")
    page.wait(lambda: output.get_attribute("data-state") == "done", 20, "the live count")
    reach = {cell.get_attribute("data-channel"): int(cell.find_element(
        "css selector", "[data-reach]").get_attribute("data-value"))
        for cell in page.all("[data-channel]")}
    return int(output.get_attribute("data-count")), reach


def open_new(page: Page, **size: int) -> None:
    page.open("#/new", **size)
    page.find("button", "Add segment")


BUILT = ('all(\n  city starts_with "War",\n  event MailOpen occurred within 90d,\n'
         '  any(vip is_true, age > 40)\n)\n  or all(tags contains "vip")')


def test_a_segment_built_by_clicking_has_the_count_and_members_of_its_text(
        page: Page, demo_site: Site) -> None:
    open_new(page)
    # Segment 1: a text condition, an event with a window, a sub-segment of two
    page.click_war_openers()
    page.choose("Window of condition 2 in Segment 1", "within")
    page.retype("Period of condition 2 in Segment 1", "90")
    page.choose("Unit of period of condition 2 in Segment 1", "d")
    page.click("button", "Add a sub-segment to Segment 1")
    sub = "Sub-segment 3 of Segment 1"
    page.choose(f"Field of condition 1 in {sub}", "vip")
    page.click("button", f"Add a condition to {sub}")
    page.choose(f"Field of condition 2 in {sub}", "age")
    page.choose(f"Operator of condition 2 in {sub}", "gt")
    page.retype(f"Value of condition 2 in {sub}", "40")
    page.choose(f"{sub} requires", "any")
    # Segment 2, joined by or
    page.click("button", "Add segment")
    page.choose("Field of condition 1 in Segment 2", "tags")
    page.choose("Operator of condition 1 in Segment 2", "contains")
    page.retype("Value of condition 1 in Segment 2", "vip")
    page.choose("Join between Segment 1 and Segment 2", "or")
    wait_text(page, BUILT)

    count, reach = live_count(page)
    assert count == demo_site.count(BUILT) > 0
    expected = demo_site.reach(BUILT)
    assert reach == {channel: expected[channel] for channel in CHANNELS}

    name = "Built by clicking"
    page.field("Name").send_keys(name)
    page.click("button", "Save")
    try:
        page.wait(lambda: name in {s["name"] for s in demo_site.api("GET",
                                                                   "segments?counts=false")})
        assert demo_site.export_ids("--segment", name) == demo_site.export_ids(BUILT)
    finally:
        demo_site.api("DELETE", f"segments/{name}")


def selected(page: Page, label: str) -> str:
    return str(page.field(label).get_attribute("value"))


def builder_shows(page: Page, expected: dict[str, str]) -> None:
    def same() -> bool:
        return all(selected(page, label) == value for label, value in expected.items())
    page.wait(same, 15, f"the builder to show {expected}")


def test_typed_text_moves_the_builder_and_the_builder_rewrites_the_text(
        page: Page, demo_site: Site) -> None:
    open_new(page)
    text_of(page).send_keys('any(city starts_with "War", event Purchase where (value > 200) '
                            'occurred at_least 2 within 365d, not in_segment "Warsaw openers")')
    builder_shows(page, {
        "Segment 1 requires": "any",
        "Field of condition 1 in Segment 1": "city",
        "Operator of condition 1 in Segment 1": "starts_with",
        "Value of condition 1 in Segment 1": "War",
        "Data type of condition 2 in Segment 1": "event",
        "Event of condition 2 in Segment 1": "Purchase",
        "Count of condition 2 in Segment 1": "at_least",
        "Times of condition 2 in Segment 1": "2",
        "Window of condition 2 in Segment 1": "within",
        "Period of condition 2 in Segment 1": "365",
        "Property of condition 1 in where of condition 2 in Segment 1": "value",
        "Operator of condition 1 in where of condition 2 in Segment 1": "gt",
        "Data type of condition 3 in Segment 1": "in_segment",
        "Saved segment of condition 3 in Segment 1": "Warsaw openers",
    })
    assert page.field("Negate condition 3 in Segment 1").is_selected()

    # a change of the text moves the builder again
    text = text_of(page)
    text.send_keys(Keys.CONTROL, "a")
    text.send_keys('all(age between 25 and 40) and vip is_true')
    builder_shows(page, {"Segment 1 requires": "all", "Field of condition 1 in Segment 1": "age",
                         "Operator of condition 1 in Segment 1": "between",
                         "Value of condition 1 in Segment 1": "25",
                         "Upper value of condition 1 in Segment 1": "40",
                         "Join between Segment 1 and Segment 2": "and",
                         "Field of condition 1 in Segment 2": "vip"})
    assert live_count(page)[0] == demo_site.count("all(age between 25 and 40) and vip is_true")

    # and a change in the builder rewrites the text
    page.choose("Operator of condition 1 in Segment 2", "is_false")
    wait_text(page, "all(age between 25 and 40) and vip is_false")


@pytest.mark.parametrize(("typed", "marked", "position", "message", "row"), [
    ('all(city starts_with "War",\n  age starts_with "3")', 'age starts_with "3"',
     ("2", "3", "2", "22"), "`starts_with` does not apply to number field `age`",
     ("Condition 2 in Segment 1", "does not apply to number field `age`")),
    ('city > 5', "city > 5", ("1", "1", "1", "9"), "`>` does not apply to text field `city`",
     ("Condition 1 in Segment 1", "does not apply to text field `city`")),
    ('all(citty starts_with "War")', 'citty starts_with "War"', ("1", "5", "1", "28"),
     "citty", ("Condition 1 in Segment 1", "unknown field `citty`")),
    ('all(age > 3,', " ", ("1", "13", "1", "14"), "the segment ends too early", None),
])
def test_problems_are_underlined_at_their_columns(
        page: Page, typed: str, marked: str, position: tuple[str, ...], message: str,
        row: tuple[str, str] | None) -> None:
    open_new(page)
    text_of(page).send_keys(typed)
    mark = page.wait(lambda: next(iter(page.all("[data-problem]")), None), 15,
                     "an underlined problem")
    attributes = ("data-line", "data-column", "data-end-line", "data-end-column")
    assert tuple(mark.get_attribute(name) for name in attributes) == position
    assert mark.get_attribute("textContent") == marked
    assert message in str(mark.get_attribute("title"))
    # drawn over the text itself: inside the text box, on the problem's line
    box, at = text_of(page).rect, mark.rect
    assert box["x"] <= at["x"] < box["x"] + box["width"]
    assert box["y"] <= at["y"] < box["y"] + box["height"]
    assert any(message in page.text(item) for item in page.all(".ed-problems li"))
    assert text_of(page).get_attribute("aria-invalid") == "true"
    if row is not None:  # the builder shows the text, and the problem on its row
        name, said = row
        page.wait_text(lambda: page.find(".ed-builder-problems"),
                       lambda shown: shown.startswith(f"{name}: ") and said in shown)
        assert "ed-invalid" in str(page.find("region", name).get_attribute("class"))


def keys(page: Page, *sent: str) -> None:
    ActionChains(page.driver).send_keys(*sent).perform()


def focused(page: Page) -> str:
    return str(page.driver.switch_to.active_element.get_attribute("aria-label"))


def test_one_condition_made_with_the_keyboard_alone(page: Page, demo_site: Site) -> None:
    open_new(page)
    page.field("Description").click()
    keys(page, Keys.TAB)
    assert focused(page) == "Add segment"
    keys(page, Keys.ENTER)
    page.wait(lambda: focused(page) == "Data type of condition 1 in Segment 1")
    steps: list[tuple[str, Callable[[], None]]] = [
        ("Field of condition 1 in Segment 1", lambda: keys(page, "city")),
        ("Operator of condition 1 in Segment 1", lambda: keys(page, Keys.DOWN, Keys.DOWN)),
        ("Value of condition 1 in Segment 1", lambda: keys(page, "War")),
    ]
    for label, act in steps:
        keys(page, Keys.TAB)
        page.wait(lambda label=label: focused(page) == label, message=label)  # type: ignore[misc]
        act()
    wait_text(page, 'all(city starts_with "War")')
    assert live_count(page)[0] == demo_site.count('all(city starts_with "War")')


def test_text_the_builder_cannot_keep_stays_authoritative(page: Page) -> None:
    open_new(page)
    typed = 'city starts_with "War"  # Warsaw and Warszawa'
    text_of(page).send_keys(typed)
    note = page.wait_text(lambda: page.find(".ed-builder .ed-note"),
                          lambda shown: "comments" in shown)
    assert "read-only" in note
    assert not page.field("Field of condition 1 in Segment 1").is_enabled()
    assert text_of(page).get_attribute("value") == typed
    # asked for, the builder takes over: its change rewrites the text, without the comment
    page.click("button", "Edit in the builder anyway (drops the comments)")
    page.choose("Operator of condition 1 in Segment 1", "ends_with")
    wait_text(page, 'city ends_with "War"')


def test_a_narrow_window_keeps_every_control_labelled_and_in_view(page: Page) -> None:
    open_new(page, width=400, height=800)
    text_of(page).send_keys('all(city starts_with "War", event Purchase occurred '
                            'between "2025-01-01" and today)')
    page.find("control", "Upper period of condition 2 in Segment 1")
    width = page.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 400
    unnamed = page.driver.execute_script(
        "return [...document.querySelectorAll('.ed input, .ed select, .ed textarea, "
        ".ed button')].filter((el) => !el.getAttribute('aria-label') && "
        "!(el.labels && el.labels.length) && !el.textContent.trim()).length")
    assert unnamed == 0


def test_a_duplicate_name_is_refused_in_place(page: Page) -> None:
    page.expect_status(409)
    open_new(page)
    page.field("Name").send_keys("warsaw OPENERS")
    text_of(page).send_keys("vip is_true")
    page.click("button", "Save")
    error = page.wait_text(lambda: page.find("#ed-name-error"),
                           lambda shown: "already has a segment" in shown)
    assert "Warsaw openers" in error
    assert page.field("Name").get_attribute("aria-invalid") == "true"


def test_a_saved_segment_opens_in_the_builder_and_cancel_leaves(
        page: Page, demo_site: Site) -> None:
    page.open("#/edit/Warsaw openers")
    name = page.field("Name")
    assert name.get_attribute("value") == "Warsaw openers"
    assert name.get_attribute("readonly") is not None
    wait_text(page, 'all(city starts_with "War", event MailOpen occurred)')
    builder_shows(page, {"Field of condition 1 in Segment 1": "city",
                         "Event of condition 2 in Segment 1": "MailOpen"})
    assert live_count(page)[0] == demo_site.count(
        'all(city starts_with "War", event MailOpen occurred)')
    page.click("button", "Cancel")
    page.row("Warsaw openers")


_COUNTS = """
window.__counts = [];
const original = window.fetch;
window.fetch = (url, init) => {
  if (String(url).endsWith('/count')) window.__counts.push(init && init.signal);
  return original(url, init);
};
"""


def test_typing_asks_for_one_count_and_a_newer_one_aborts_the_older(page: Page) -> None:
    open_new(page)
    page.driver.execute_script(_COUNTS)
    text_of(page).send_keys('all(city starts_with "War", event MailOpen occurred)')
    live_count(page)
    assert page.driver.execute_script("return window.__counts.length") == 1
    # two changes in a row: the first count is aborted once the second is asked for
    page.driver.execute_script(
        "const t = arguments[0]; t.value = 'vip is_true';"
        "t.dispatchEvent(new Event('input'));", text_of(page))
    page.wait(lambda: page.driver.execute_script("return window.__counts.length") == 2)
    page.driver.execute_script(
        "const t = arguments[0]; t.value = 'vip is_false';"
        "t.dispatchEvent(new Event('input'));", text_of(page))
    page.wait(lambda: page.driver.execute_script("return window.__counts.length") == 3)
    live_count(page)
    # each newer request aborted the one before (whether or not it had answered)
    aborted = page.driver.execute_script("return window.__counts.map((s) => s.aborted)")
    assert aborted == [True, True, False]


def test_save_waits_for_a_segment_without_problems(page: Page, demo_site: Site) -> None:
    open_new(page)
    page.field("Name").send_keys("Has a type error")
    text_of(page).send_keys('age starts_with "3"')
    page.wait(lambda: next(iter(page.all("[data-problem]")), None), 15)
    page.click("button", "Save")
    page.wait_text(lambda: page.find(".ed-save-error"), lambda shown: "problems" in shown)
    names = {s["name"] for s in demo_site.api("GET", "segments?counts=false")}
    assert "Has a type error" not in names
