"""The builder page in a real browser: Debian's headless Chromium driven through its
chromedriver (selenium; no browser is downloaded), against a real `segql serve` over
real HTTP with the sample data (`segql demo`'s) in its own index on the test node.

`demo_site` (session): the served app, with saved segments and a write token for `demo`.
`chromium` (session): one browser for every test. `page` (per test): the browser at the
page, signed in; after the test, the browser's console must hold no error (an HTTP error
status a test expects is declared with `page.expect_status(409)`). Nothing skips: without
/usr/bin/chromium and /usr/bin/chromedriver the tests fail (scripts/test installs them).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from elasticsearch import Elasticsearch
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from segql import api
from segql.indexer.files import open_records
from segql.indexer.loader import load
from segql.sample import SAMPLE_PATH
from service import SEGQL, Service, running_service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ACCOUNT = "demo"
#: The saved segments of the demo site: name → (expression, description).
SEGMENTS: dict[str, tuple[str, str]] = {
    "Warsaw openers": ('all(city starts_with "War", event MailOpen occurred)',
                       "README's first example"),
    "Gmail or Kraków": ('any(email ends_with "@gmail.com", city equals "KRAKÓW")', ""),
    "Warsaw VIP openers": ('all(in_segment "Warsaw openers", vip is_true)',
                           "VIPs among the Warsaw openers"),
    "VIPs who never bought": ('all(tags contains "vip", not event Purchase occurred)',
                              "tagged vip, no purchase"),
}
T = TypeVar("T")

# The accessible name of an element, as the page's users and the tests see it (the
# computation's common cases: aria-labelledby, aria-label, <label>, then the content);
# the candidates of a role, visible ones only.
_FIND = """
const [role, name, root] = arguments;
const ROLES = {
  button: 'button, [role=button], input[type=button], input[type=submit]',
  link: 'a[href], [role=link]',
  textbox: 'input:not([type]), input[type=text], input[type=search], ' +
           'input[type=password], input[type=number], input[type=date], ' +
           'input[type=datetime-local], textarea, [role=textbox]',
  combobox: 'select, [role=combobox], input[list]',
  checkbox: 'input[type=checkbox], [role=checkbox], [role=switch]',
  radio: 'input[type=radio], [role=radio]',
  control: 'input, select, textarea, button, [role=textbox], [role=combobox]',
  region: 'section[aria-label], [role=region], form[aria-label], [role=group]',
  alert: '[role=alert]', status: '[role=status]',
  row: 'tr, [role=row]', tree: 'ul[aria-label], [role=tree]',
};
const squash = (s) => (s || '').replace(/\\s+/g, ' ').trim();
function accessibleName(el) {
  const by = el.getAttribute('aria-labelledby');
  if (by) return squash(by.split(/\\s+/).map((id) => {
    const ref = document.getElementById(id); return ref ? ref.textContent : ''; }).join(' '));
  if (el.getAttribute('aria-label')) return squash(el.getAttribute('aria-label'));
  if (el.labels && el.labels.length) {
    return squash([...el.labels].map((label) => {
      const copy = label.cloneNode(true);
      copy.querySelectorAll('input, select, textarea').forEach((c) => c.remove());
      return copy.textContent; }).join(' '));
  }
  if (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) return squash(el.getAttribute('title'));
  return squash(el.textContent);
}
const visible = (el) => el.getClientRects().length > 0 &&
  getComputedStyle(el).visibility !== 'hidden';
const scope = root || document;
return [...scope.querySelectorAll(ROLES[role] || role)]
  .filter((el) => visible(el) && (name === null || accessibleName(el) === name));
"""


def chromium_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return (f"{path} is missing: install Debian's packages (`apt-get install -y "
                    "chromium chromium-driver`; scripts/test does it)")
    return None


@dataclass
class Site:
    """The served app and what it serves: the sample data and the saved segments."""

    service: Service
    es_url: str
    account: str = ACCOUNT

    @property
    def url(self) -> str:
        return self.service.url

    @property
    def index(self) -> str:
        return self.service.index

    def token(self, scope: str = "write") -> str:
        return self.service.token(self.account, scope)

    def cli(self, *args: str) -> str:
        """`segql ARGS --account demo --index <the site's>` on the same cluster: stdout."""
        env = {**os.environ, "ELASTICSEARCH_URL": self.es_url}
        done = subprocess.run([SEGQL, *args, "--account", self.account, "--index",
                               self.index], capture_output=True, text=True, env=env,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def count(self, expression: str) -> int:
        return int(self.cli("count", expression).strip())

    def export_ids(self, *how: str) -> list[str]:
        """The ids `segql export` gives (an expression, or `--segment NAME`)."""
        return self.cli("export", *how).split()

    def reach(self, expression: str) -> dict[str, int]:
        """What `segql count EXPR --channels` prints (the same library call): the total
        and the reach per channel."""
        ctx = api.context(self.service.es, self.account, index=self.index)
        result = api.count(self.service.es, expression, ctx, self.index, channels=True)
        assert result.reachable is not None
        return {"total": result.count, **result.reachable}

    def api(self, method: str, path: str, body: Any = None) -> Any:
        with self.service.client(self.account, "write") as client:
            reply = client.request(method, f"/v1/accounts/{self.account}/{path}",
                                   json=body)
            assert reply.status_code < 300, reply.text
            return reply.json() if reply.content else None


@dataclass
class Page:
    """The browser at the builder page, with helpers that find things the way a person
    does: by role and label, never by CSS class."""

    driver: webdriver.Chrome
    site: Site
    #: HTTP error statuses this test causes on purpose (the browser logs each one).
    expected_statuses: set[int] = field(default_factory=set)

    # --- navigation ----------------------------------------------------------------
    def open(self, route: str = "#/", *, token: str | None = None, account: str = ACCOUNT,
             width: int = 1280, height: int = 800) -> None:
        """The page at `route`, for `account`, with the write token typed in (or the one
        given, "" for none)."""
        self.viewport(width, height)
        self.driver.get(f"{self.site.url}/?account={account}{route}")
        self.wait(lambda: self.driver.execute_script(
            "return document.readyState === 'complete' && "
            "!!document.querySelector('#view').firstChild"))
        secret = self.site.token() if token is None else token
        current = self.field("API token")
        if current.get_attribute("value") != secret:
            current.clear()
            current.send_keys(secret)
            self.click("button", "Use")

    def viewport(self, width: int, height: int) -> None:
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def go(self, route: str) -> None:
        self.driver.execute_script("location.hash = arguments[0]", route)

    # --- finding -------------------------------------------------------------------
    def all(self, role: str, name: str | None = None,
            within: WebElement | None = None) -> list[WebElement]:
        found: list[WebElement] = self.driver.execute_script(_FIND, role, name, within)
        return found

    def find(self, role: str, name: str | None = None, within: WebElement | None = None,
             timeout: float = 10) -> WebElement:
        """The one visible element of `role` named `name`, waited for."""
        def one() -> WebElement | None:
            found = self.all(role, name, within)
            assert len(found) <= 1, f"{len(found)} {role}s named {name!r}"
            return found[0] if found else None
        return self.wait(one, timeout, f"a {role} named {name!r}")

    def field(self, label: str, within: WebElement | None = None) -> WebElement:
        return self.find("control", label, within)

    def click(self, role: str, name: str, within: WebElement | None = None) -> WebElement:
        element = self.find(role, name, within)
        self.wait(lambda: element.is_enabled(), message=f"{name!r} enabled")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()
        return element

    def choose(self, label: str, value: str, within: WebElement | None = None) -> None:
        """Pick the option of `value` in the select labelled `label`."""
        element = self.field(label, within)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        Select(element).select_by_value(value)

    def retype(self, label: str, text: str, within: WebElement | None = None) -> None:
        """Replace what the field labelled `label` holds by `text`, typed."""
        element = self.field(label, within)
        element.clear()
        element.send_keys(text)


    def click_war_openers(self) -> None:
        """In an open editor, by clicking only: Segment 1 with `city starts_with "War"` and
        `event MailOpen occurred` (the README's first example; tests add to it)."""
        self.click("button", "Add segment")
        self.choose("Field of condition 1 in Segment 1", "city")
        self.choose("Operator of condition 1 in Segment 1", "starts_with")
        self.retype("Value of condition 1 in Segment 1", "War")
        self.click("button", "Add a condition to Segment 1")
        self.choose("Data type of condition 2 in Segment 1", "event")
        self.choose("Event of condition 2 in Segment 1", "MailOpen")
    def row(self, name: str) -> WebElement:
        """The segment list's row of the saved segment `name` (its row header)."""
        def found() -> WebElement | None:
            for row in self.all("row"):
                headers = row.find_elements("xpath", "./th[@scope='row']")
                if headers and headers[0].text.strip() == name:
                    return row
            return None
        return self.wait(found, message=f"the row of {name!r}")

    def text(self, element: WebElement) -> str:
        return " ".join(element.text.split())

    def wait(self, condition: Callable[[], T | None], timeout: float = 10,
             message: str = "") -> T:
        def attempt(_: object) -> T | None:
            try:
                return condition()
            except (StaleElementReferenceException, AssertionError):
                return None
        result: T = WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(
            attempt, message)
        return result

    def wait_text(self, element_of: Callable[[], WebElement], predicate: Callable[[str], bool],
                  timeout: float = 15, message: str = "") -> str:
        """The element's text once `predicate` holds for it."""
        def ready() -> str | None:
            text = self.text(element_of())
            return text if predicate(text) else None
        return self.wait(ready, timeout, message)

    # --- the console ---------------------------------------------------------------
    def expect_status(self, *statuses: int) -> None:
        self.expected_statuses.update(statuses)

    def console_errors(self) -> list[str]:
        """The console's errors since the last call: the page's own (console.error,
        uncaught exceptions, CSP violations) and failed requests not expected."""
        errors = []
        for entry in self.driver.get_log("browser"):
            if entry["level"] not in ("SEVERE", "ERROR"):
                continue
            message = str(entry["message"])
            if entry.get("source") == "network" and any(
                    f"status of {status}" in message for status in self.expected_statuses):
                continue
            errors.append(message)
        return errors


def start_chromium() -> webdriver.Chrome:
    missing = chromium_missing()
    if missing:
        pytest.fail(missing, pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,800", "--lang=en-US",
                     "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    except WebDriverException as error:
        pytest.fail(f"headless Chromium did not start: {error.msg}", pytrace=False)


def load_sample(es: Elasticsearch, index: str) -> None:
    """The sample data (`segql demo`'s) into `index`, searchable."""
    with open_records(str(SAMPLE_PATH)) as lines:
        load(es, index, lines)
    es.indices.refresh(index=index)


def save_segments(site: Site) -> None:
    for name, (expression, description) in SEGMENTS.items():
        site.api("POST", "segments", {"name": name, "text": expression,
                                      "description": description or None})


@pytest.fixture(scope="session")
def demo_site(es: Elasticsearch, es_url: str) -> Iterator[Site]:
    """`segql serve` (tokens required) over the sample data, with SEGMENTS saved. The
    data loads while the server starts (another process)."""
    index = f"segql-ui-{uuid.uuid4().hex[:10]}"
    with ThreadPoolExecutor(1) as pool:
        loading = pool.submit(load_sample, es, index)
        with running_service(es, es_url, index=index) as service:
            loading.result()
            site = Site(service, es_url)
            save_segments(site)
            yield site


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(chromium: webdriver.Chrome, demo_site: Site) -> Iterator[Page]:
    """The browser for one test; its console must be free of errors at the end."""
    chromium.get("about:blank")
    chromium.get_log("browser")  # what earlier tests left
    browser = Page(chromium, demo_site)
    yield browser
    errors = browser.console_errors()
    assert not errors, "errors in the browser console:\n" + json.dumps(errors, indent=1)

