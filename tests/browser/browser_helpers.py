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


def styled(d: Any, name: str) -> None:
    """Wait until the page has loaded and pager.css applies (its body has no margin).
    `d.get` can return while the new page is still 'interactive', its stylesheet not yet
    loaded (seen: document.styleSheets empty): a width measured then is the unstyled
    page's (the analytics tables at their natural 602 px), which nobody sees, since the
    stylesheet blocks the first paint."""
    until(lambda: d.execute_script(
        "return document.readyState === 'complete'"
        " && getComputedStyle(document.body).marginTop === '0px';"
    ), f"{name}: the page did not load or its stylesheet did not apply")  # fmt: skip


# How wide the page is; the tables' boxes (.scroll) that scroll sideways (on a phone a
# table is a list of cards: it must not); and the innermost elements that stick out or
# whose text does, outside any box of their own that scrolls or clips (for the message)
_WIDTH = """
const vw = document.documentElement.clientWidth, out = [];
const brief = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
  (typeof el.className === "string" && el.className ? "." + el.className.split(" ").join(".") : "") +
  " " + JSON.stringify(el.textContent.trim().slice(0, 40));
const boxed = (el) => {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement)
    if (getComputedStyle(p).overflowX !== "visible") return true;
  return false;
};
document.querySelectorAll("body *").forEach((el) => {
  if (boxed(el)) return;
  const r = el.getBoundingClientRect();
  if (r.width && r.right > vw + 0.5 && ![...el.children].some((c) => c.getBoundingClientRect().right > vw + 0.5))
    out.push(brief(el) + " reaches " + Math.round(r.right) + " px");
  else if (el.clientWidth && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible"
           && ![...el.children].some((c) => c.scrollWidth > c.clientWidth + 1))
    out.push(brief(el) + " holds " + el.scrollWidth + " px in " + el.clientWidth);
});
const scrolling = [...document.querySelectorAll(".scroll")].filter((el) => el.scrollWidth > el.clientWidth + 1)
  .map((el) => brief(el.firstElementChild || el) + " scrolls: " + el.scrollWidth + " px in " + el.clientWidth);
return [document.documentElement.scrollWidth, scrolling, out.slice(0, 6)];
"""


def assert_fits(d: Any, name: str, width: int) -> None:
    """Nothing on the page is wider than the window (no sideways scrolling on a phone),
    and no table scrolls sideways in its own box either (on a phone its rows are cards;
    long titles and names wrap). The 14-day schedule chart (.sched) may: it is a chart of
    fixed scale."""
    scroll, scrolling, culprits = d.execute_script(_WIDTH)
    assert scroll <= width, f"{name} is {scroll} px wide at {width}: {culprits}"
    assert not scrolling, f"{name} at {width}: {scrolling}"


def page_problems(d: Any) -> list[str]:
    return list(d.execute_script(_PAGE_PROBLEMS))


def console_problems(d: Any) -> list[str]:
    """What the console said that a page must never cause: a resource or script refused
    by the Content-Security-Policy, an uncaught error."""
    bad = ("Content Security Policy", "Refused to", "Uncaught")
    return [e["message"] for e in d.get_log("browser") if any(b in e["message"] for b in bad)]
