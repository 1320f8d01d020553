"""Driving Debian's chromium through selenium for the dashboard's browser tests: a headless
driver that keeps the console log, waits, full-page screenshots, and the checks every page
gets (labels, names, touch targets, what the console said)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WAIT = 20.0


def driver(width: int, height: int) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # --hide-scrollbars: overlay scrollbars, as on a phone (a 15 px bar would make 360 px 345)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars",
                f"--window-size={width},{height}", "--force-device-scale-factor=1"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def until(what: Callable[[], Any], message: str, wait: float = WAIT) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def check(_: Any) -> Any:
        try:
            return what()
        except StaleElementReferenceException:  # a live swap replaced it: look again
            return False

    return WebDriverWait(None, wait, poll_frequency=0.1).until(check, message)


def click_and_load(d: Any, element: Any) -> None:
    """Click a submit button and wait until the page it leaves is gone."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(_: Any) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            # asked while the old document is being torn down, chromedriver says so in
            # these words instead of "stale" (selenium's staleness_of lets it through)
            if "does not belong to the document" in str(e):
                return True
            raise
        return False

    element.click()
    WebDriverWait(d, WAIT).until(gone, "the form did not submit")


def sign_in(d: Any, base: str, user: str, password: str, path: str = "/login") -> None:
    from selenium.webdriver.common.by import By

    d.get(base + path)
    d.find_element(By.ID, "user").clear()
    d.find_element(By.ID, "user").send_keys(user)
    d.find_element(By.ID, "password").send_keys(password)
    click_and_load(d, d.find_element(By.ID, "signin"))


def shoot(d: Any, name: str) -> None:
    """The whole page, not only the window: what a person scrolling would see."""
    from selenium.webdriver.support.ui import WebDriverWait

    SHOTS.mkdir(parents=True, exist_ok=True)

    def laid_out(d: Any) -> Any:
        # right after a resize and a load, Chromium may report a 0-wide content box for a
        # moment (seen in CI: "Cannot take screenshot with 0 width"): wait for the layout
        metrics = d.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        return size if size["width"] >= 1 and size["height"] >= 1 else None

    size = WebDriverWait(d, WAIT).until(laid_out, "the page has no layout to photograph")
    shot = d.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}},
    )  # fmt: skip
    (SHOTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


# Every form control has a label, every button and link a name, one h1, a <main>, and
# touch targets of at least 44 px (controls and the navigation).
_PAGE_PROBLEMS = """
const problems = [];
const brief = (el) => el.outerHTML.slice(0, 90);
document.querySelectorAll("input:not([type=hidden]), select, textarea").forEach((el) => {
  if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) problems.push("no label: " + brief(el));
});
document.querySelectorAll("button, a[href]").forEach((el) => {
  if (!el.textContent.trim() && !el.getAttribute("aria-label")) problems.push("no name: " + brief(el));
});
const h1 = document.querySelectorAll("h1").length;
if (h1 !== 1) problems.push(h1 + " h1 elements");
if (!document.querySelector("main")) problems.push("no main");
document.querySelectorAll("button, select, input:not([type=hidden]), textarea, .top nav a").forEach((el) => {
  const r = el.getBoundingClientRect();
  if (r.width && r.height < 43.5) problems.push("target " + Math.round(r.height) + " px tall: " + brief(el));
});
return problems;
"""


def page_problems(d: Any) -> list[str]:
    return list(d.execute_script(_PAGE_PROBLEMS))


def console_problems(d: Any) -> list[str]:
    """What the console said that a page must never cause: a resource or script refused
    by the Content-Security-Policy, an uncaught error."""
    bad = ("Content Security Policy", "Refused to", "Uncaught")
    return [e["message"] for e in d.get_log("browser") if any(b in e["message"] for b in bad)]
