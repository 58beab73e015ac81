"""The builder page is usable by people: every control has a name (the browser's own
accessible-name computation), the page fits a 1280 by 800 screen and a 400-pixel-wide window
without sideways scrolling, and the list works from the keyboard alone."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from browser import Page

pytestmark = pytest.mark.es

CONTROLS = "input, select, textarea, button, a[href], output, [role=button], [tabindex]"


def unnamed_controls(page: Page) -> list[str]:
    """The visible controls the browser finds no accessible name for."""
    missing = []
    for element in page.driver.find_elements("css selector", CONTROLS):
        if not element.is_displayed() or element.get_attribute("tabindex") == "-1":
            continue
        if not (element.accessible_name or "").strip():
            missing.append(element.get_attribute("outerHTML")[:160])
    return missing


def open_everything(page: Page, route: str) -> None:
    """The route with its optional parts shown (a members panel, a delete question)."""
    if route == "#/":
        page.click("button", "Show members of Warsaw VIP openers")
        page.wait_text(lambda: page.find("status", None,
                                         page.find("region", "Members of Warsaw VIP openers")),
                       bool)
        page.click("button", "Delete Gmail or Kraków")
    elif route == "#/explain":
        page.find("combobox", "Saved segment")
    else:
        page.find("textbox", "Name")


@pytest.mark.parametrize("route", ["#/", "#/explain", "#/new", "#/edit/Warsaw%20openers"])
@pytest.mark.parametrize("width", [1280, 400])
def test_every_control_is_named_and_the_page_fits_the_window(page: Page, route: str,
                                                             width: int) -> None:
    page.open(route, width=width, height=800)
    open_everything(page, route)
    assert unnamed_controls(page) == []
    overflow = page.driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px wider than a {width}px window"
    title = page.driver.find_element("css selector", "main h2")
    assert title.is_displayed() and title.rect["x"] >= 0
    size = float(page.driver.execute_script(
        "return parseFloat(getComputedStyle(document.body).fontSize)"))
    assert size >= 14


def test_the_list_works_from_the_keyboard(page: Page) -> None:
    page.open()
    page.row("Warsaw VIP openers")
    search = page.field("Search by name")
    search.click()
    keys = ActionChains(page.driver)

    def tab_to(name: str, limit: int = 40) -> None:
        for _ in range(limit):
            if (page.driver.switch_to.active_element.accessible_name or "") == name:
                return
            keys.send_keys(Keys.TAB).perform()
        raise AssertionError(f"Tab never reached {name!r}")

    tab_to("Show members of Warsaw VIP openers")
    keys.send_keys(Keys.ENTER).perform()
    panel = page.find("region", "Members of Warsaw VIP openers")
    page.wait_text(lambda: page.find("status", None, panel),
                   lambda text: text.startswith("Contacts 1 to 20 of "))
    tab_to("Delete Warsaw VIP openers")
    keys.send_keys(Keys.ENTER).perform()
    page.find("region", "Delete Warsaw VIP openers")
    assert page.driver.switch_to.active_element.accessible_name == "Delete for good"
    keys.send_keys(Keys.ESCAPE).perform()
    page.wait(lambda: not page.all("region", "Delete Warsaw VIP openers") or None)
    assert page.driver.switch_to.active_element.accessible_name == "Delete Warsaw VIP openers"
    # the routes are links: Enter on one moves focus to the new view's title
    tab_to("Explain Warsaw VIP openers for a contact")
    keys.send_keys(Keys.ENTER).perform()
    page.wait(lambda: page.driver.switch_to.active_element.text == "Explain" or None)
    page.wait(lambda: page.find("combobox", "Saved segment").get_attribute("value") ==
              "Warsaw VIP openers" or None, message="the saved segment chosen")
