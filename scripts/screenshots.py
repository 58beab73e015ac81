"""The builder page's screenshots in docs/img/, made with the browser tests' machinery
(tests/support/browser.py): the sample data in a fresh index on $ELASTICSEARCH_URL, the
demo site's saved segments, a real `segql serve`, Debian's headless Chromium.

    scripts/screenshots            # starts (and stops) a local node when needed
"""

from __future__ import annotations

import base64
import os
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "support"))

from browser import Page, Site, load_sample, save_segments, start_chromium  # noqa: E402
from segql.stores.connection import connect  # noqa: E402
from service import running_service  # noqa: E402

OUT = REPO / "docs" / "img"


def shoot(page: Page, name: str, width: int, height: int) -> None:
    """The whole page (up to 2,000 px tall) at `width`, as docs/img/<name>.png."""
    full = int(page.driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, arguments[0])", height))
    page.viewport(width, min(full, 2000))
    shot = page.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    path = OUT / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    page.viewport(width, height)
    print(f"wrote {path.relative_to(REPO)}")


def main() -> None:
    url = os.environ["ELASTICSEARCH_URL"]
    es = connect(url)
    index = f"segql-shots-{uuid.uuid4().hex[:8]}"
    load_sample(es, index)
    OUT.mkdir(parents=True, exist_ok=True)
    driver = start_chromium()
    try:
        with running_service(es, url, index=index) as service:
            site = Site(service, url)
            save_segments(site)
            page = Page(driver, site)
            page.open("#/", width=1280, height=800)
            for name in ("Warsaw openers", "Warsaw VIP openers"):
                page.wait(lambda name=name: "…" not in page.text(page.row(name)) or None, 30)
            page.click("button", "Show members of Warsaw VIP openers")
            panel = page.find("region", "Members of Warsaw VIP openers")
            page.field("Addresses", panel).send_keys("email")
            page.wait(lambda: page.text(page.find("status", None, panel)).startswith("Page 1:")
                      or None, 30)
            shoot(page, "builder-list", 1280, 800)
            page.open("#/", width=400, height=800)
            page.wait(lambda: "…" not in page.text(page.row("Warsaw VIP openers")) or None, 30)
            shoot(page, "builder-narrow", 400, 800)
            page.open("#/edit/Warsaw%20openers", width=1280, height=800)
            count = page.all("output", "Live count")
            if count:  # the editor's live count, once counted
                page.wait(lambda: count[0].get_attribute("data-state") == "done" or None, 30)
            shoot(page, "builder-editor", 1280, 800)
            page.open("#/explain?segment=Warsaw%20VIP%20openers", width=1280, height=800)
            page.wait(lambda: page.field("Saved segment").get_attribute("value") ==
                      "Warsaw VIP openers" or None, 30)
            contact = site.api("GET", "segments/Warsaw VIP openers/members?size=1")
            page.field("Contact id").send_keys(contact["members"][0]["contact_id"])
            page.click("button", "Explain")
            page.find("tree", "Condition tree", timeout=30)
            shoot(page, "builder-explain", 1280, 800)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
