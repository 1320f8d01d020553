"""The dashboard in a real browser: Debian's chromium driven by selenium through
chromium-driver (installed by `scripts/setup --test`; skipped, saying so, without them).

A responder signs in, an alert posted to /v2/enqueue appears on the incidents page without
a reload, the Acknowledge button acknowledges it, the incident page reads "Acknowledged by
<name> via web" and the REST API agrees. A wrong password is refused, then throttled. A
viewer sees no action buttons.
Screenshots of every page at desktop size and at 360 px go to test-artifacts/screenshots.

Selenium blocks, so the whole browser session runs in a worker thread while pager serves
from the test's trio loop.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from ..harness import auth, pd_trigger, running_pager
from ..web.dashboard_helpers import PASSWORDS, dashboard_config

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="needs Debian's chromium and chromium-driver (scripts/setup --test installs them)",
)

WAIT = 15.0


def _driver(width: int, height: int) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--force-device-scale-factor=1"):  # fmt: skip
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def _until(what: Callable[[], Any], message: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(None, WAIT, poll_frequency=0.1).until(lambda _: what(), message)


def _sign_in(d: Any, base: str, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    d.get(f"{base}/login")
    d.find_element(By.ID, "user").clear()
    d.find_element(By.ID, "user").send_keys(user)
    d.find_element(By.ID, "password").send_keys(password)
    _click_and_load(d, d.find_element(By.ID, "signin"))


def _click_and_load(d: Any, element: Any) -> None:
    """Click a submit button and wait until the page it leaves is gone."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    element.click()
    WebDriverWait(d, WAIT).until(ec.staleness_of(element), "the form did not submit")


def _shoot(d: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(SHOTS / f"{name}.png"))


def scenario(base: str) -> None:
    from selenium.webdriver.common.by import By

    d = _driver(1280, 900)
    try:
        # a wrong password is refused; three (signin_attempts) in a row throttle the person,
        # whatever the password
        _sign_in(d, base, "carol", "not-her-password")
        assert "Wrong user or password" in d.find_element(By.ID, "login-error").text
        _shoot(d, "login-refused-desktop")
        for _ in range(2):
            _sign_in(d, base, "carol", "not-her-password")
        _sign_in(d, base, "carol", PASSWORDS["carol"])
        assert "Too many failed sign-ins" in d.find_element(By.ID, "login-error").text
        assert d.get_cookie("pager_session") is None

        # alice is not held up by carol's failures
        _sign_in(d, base, "alice", PASSWORDS["alice"])
        _until(lambda: d.current_url.rstrip("/") == base, "not signed in")
        _until(lambda: d.find_element(By.ID, "live").text == "Live", "the stream did not connect")
        assert "No incidents match" in d.page_source

        # an alert arrives: its row appears without a reload
        d.execute_script("window.__same_page = true;")
        with httpx.Client() as client:
            r = client.post(
                f"{base}/v2/enqueue", json=pd_trigger("browser-1", summary="Checkout 500s")
            )
            assert r.status_code == 202
        row = _until(
            lambda: d.find_elements(By.CSS_SELECTOR, "li.incident"),
            "the new incident did not appear",
        )[0]
        assert "Checkout 500s" in row.text
        assert d.execute_script("return window.__same_page === true;"), "the page reloaded"
        _shoot(d, "incidents-desktop")
        inc = row.get_attribute("data-incident")

        # acknowledge with the row's button
        from selenium.common.exceptions import StaleElementReferenceException

        for attempt in range(3):  # a live swap of the rows may replace the button under us
            try:
                button = d.find_element(
                    By.CSS_SELECTOR, f"#row-{inc} button[data-action=acknowledge]"
                )
                _click_and_load(d, button)
                break
            except StaleElementReferenceException:
                if attempt == 2:
                    raise
        _until(lambda: "Acknowledged by alice" in d.find_element(By.ID, "rows").text, "no ack")
        _click_and_load(d, d.find_element(By.CSS_SELECTOR, f"#row-{inc} a.title"))
        status = d.find_element(By.ID, "incident-status").text
        assert "Acknowledged by alice" in status
        assert "Acknowledged by alice via web" in d.find_element(By.ID, "timeline").text
        _shoot(d, "incident-desktop")
        with httpx.Client() as client:
            api = client.get(f"{base}/api/v1/incidents/{inc}", headers=auth()).json()
        assert api["status"] == "acknowledged" and api["acknowledged_by"] == "alice"
        assert any(t["via"] == "web" and t["by"] == "alice" for t in api["timeline"])

        for page in ("oncall", "schedules", "notifications", "services"):
            d.get(f"{base}/{page}")
            _shoot(d, f"{page}-desktop")

        # a phone: 360 px wide, nothing wider than the screen on the main pages
        d.set_window_size(360, 780)
        for page, path in [("incidents", "/?status=all"), ("incident", f"/incidents/{inc}"),
                           ("oncall", "/oncall"), ("services", "/services"),
                           ("notifications", "/notifications"), ("schedules", "/schedules")]:  # fmt: skip
            d.get(base + path)
            _shoot(d, f"{page}-360")
            if page != "schedules":  # the 14-day chart scrolls in its own box
                width = d.execute_script("return document.documentElement.scrollWidth;")
                assert width <= 360, f"{page} is {width} px wide at 360"
        # dark mode follows prefers-color-scheme
        d.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
        )
        d.get(f"{base}/incidents/{inc}")
        bg = d.execute_script("return getComputedStyle(document.body).backgroundColor;")
        assert bg == "rgb(18, 19, 22)", bg
        _shoot(d, "incident-360-dark")
        _click_and_load(d, d.find_element(By.CSS_SELECTOR, "form.me button"))  # sign out
        _until(lambda: "/login" in d.current_url, "not signed out")
        _shoot(d, "login-360")

        # a viewer sees the incident but no action buttons
        _sign_in(d, base, "bob", PASSWORDS["bob"])
        d.get(f"{base}/?status=all")
        assert inc in d.find_element(By.ID, "rows").get_attribute("innerHTML")
        assert d.find_elements(By.CSS_SELECTOR, "button[data-action]") == []
        d.get(f"{base}/incidents/{inc}")
        assert d.find_elements(By.CSS_SELECTOR, "button[data-action]") == []
        _shoot(d, "incident-viewer-360")
    finally:
        d.quit()


async def test_sign_in_live_row_acknowledge_in_chromium(tmp_path: Path) -> None:
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    with trio.fail_after(120):
        async with running_pager(dashboard_config(tmp_path / "data")) as run:
            await trio.to_thread.run_sync(scenario, run.urls[0])
