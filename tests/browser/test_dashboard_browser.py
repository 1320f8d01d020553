"""The dashboard in a real browser: Debian's chromium driven by selenium through
chromium-driver (installed by `scripts/setup --test`; skipped, saying so, without them).

A wrong password is refused, then throttled. A responder follows a link to a page, signs
in and lands on it. On the incidents page, without a reload: an alert posted to
/v2/enqueue appears, its row changes when the REST API acknowledges it and leaves the
"open" list when the API resolves it; a storm of forty alerts costs at most one refresh of
the rows a second. pager restarts while the stream is blocked; an alert
posted meanwhile appears once the page reconnects with `since=` (and the session survived).
The row's Acknowledge button acknowledges the next incident, the incident page reads
"Acknowledged by alice via web" and the REST API agrees. Times are in the browser's time
zone (Asia/Kolkata here). A viewer sees no action buttons and no integration keys. Every
page, at desktop size and 360 px, light and dark, has labelled controls and 44 px targets,
fits a phone (before its scripts run and after, the incidents page after a live refresh
too; with a service whose name is long and an incident whose title, source and details
are long unbroken words), and makes the console report no CSP refusal or script error.

Full-page screenshots of every page go to test-artifacts/screenshots. Selenium blocks, so
the browser runs in worker threads while pager serves from the test's trio loop; pager
listens on a fixed free port so the page can reconnect to the restarted process.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from pager.config import Config, load_config_text

from ..harness import auth, pd_trigger, running_pager
from ..web.dashboard_helpers import PASSWORDS, dashboard_text
from .browser_helpers import (
    CHROMEDRIVER,
    CHROMIUM,
    SHOTS,
    assert_fits,
    click_and_load,
    console_problems,
    driver,
    page_problems,
    shoot,
    sign_in,
    styled,
    until,
)

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="needs Debian's chromium and chromium-driver (scripts/setup --test installs them)",
)

ZONE = "Asia/Kolkata"  # UTC+5:30: no page can pass for UTC by accident
PAGES = [("incidents", "/?status=all"), ("oncall", "/oncall"), ("schedules", "/schedules"),
         ("notifications", "/notifications"), ("services", "/services")]  # fmt: skip
# wider than a phone unless they wrap: a service name (in every service filter), and an
# alert's title, source and details that are one word each
LONG_SERVICE = "checkout-europe-west-primary-replica-lag-storage"
LONG_TITLE = "PostgreSQLReplicationLagCritical_db_replica_eu_west_1_var_lib_postgresql_data"


def _by() -> Any:
    from selenium.webdriver.common.by import By

    return By


def _text(d: Any, element_id: str) -> str:
    return str(d.find_element(_by().ID, element_id).text)


def _post(base: str, key: str, summary: str) -> None:
    with httpx.Client() as client:
        r = client.post(f"{base}/v2/enqueue", json=pd_trigger(key, summary=summary))
        assert r.status_code == 202, r.text


def _api(base: str, inc: str, verb: str, **body: str) -> dict[str, Any]:
    with httpx.Client() as client:
        r = client.post(f"{base}/api/v1/incidents/{inc}/{verb}", headers=auth(), json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())


def _row_of(d: Any, summary: str) -> str:
    rows = until(lambda: [
        r for r in d.find_elements(_by().CSS_SELECTOR, "li.incident") if summary in r.text
    ], f"no row for {summary!r}")  # fmt: skip
    return str(rows[0].get_attribute("data-incident"))


def _check_page(d: Any, name: str, width: int) -> None:
    styled(d, name)  # measured before its stylesheet, a page is wider than anyone sees it
    problems = page_problems(d)
    assert not problems, (name, problems)
    assert_fits(d, name, width)


def _post_long(base: str) -> None:
    ev = pd_trigger("browser-long", summary=LONG_TITLE)
    ev["payload"]["source"] = "ip_10_0_0_1_eu_west_1_compute_internal_kubernetes_node_pool_7"
    ev["payload"]["custom_details"] = {"image_digest": "sha256:" + "9f86d081884c7d65" * 4}
    with httpx.Client() as client:
        r = client.post(f"{base}/v2/enqueue", json=ev)
        assert r.status_code == 202, r.text


def _live_refresh_fits(d: Any, width: int) -> None:
    """The incidents page asks for its rows again, as on a change: the new rows fit too."""
    d.execute_script(
        "window.__swapped = false;"
        "document.body.addEventListener('htmx:afterSwap', () => { window.__swapped = true; });"
        "document.body.dispatchEvent(new Event('pager:changed'));"
    )
    until(lambda: d.execute_script("return window.__swapped;"), "the rows were not refreshed")
    assert_fits(d, "incidents after a live refresh", width)


def before_the_restart(d: Any, base: str) -> None:
    By = _by()
    d.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ZONE})
    # a wrong password is refused; three (signin_attempts) in a row hold the person up,
    # whatever the password
    sign_in(d, base, "carol", "not-her-password")
    assert "Wrong user or password" in _text(d, "login-error")
    shoot(d, "login-refused-desktop")
    for _ in range(2):
        sign_in(d, base, "carol", "not-her-password")
    sign_in(d, base, "carol", PASSWORDS["carol"])
    assert "Too many failed sign-ins" in _text(d, "login-error")
    assert d.get_cookie("pager_session") is None

    # alice follows a link to the notifications, signs in, and is there
    d.get(f"{base}/notifications")
    assert "/login?next=%2Fnotifications" in d.current_url
    sign_in(d, base, "alice", PASSWORDS["alice"], path=d.current_url.removeprefix(base))
    until(lambda: d.current_url == f"{base}/notifications", "not back on the page asked for")

    d.get(f"{base}/")
    until(lambda: _text(d, "live") == "Live", "the stream did not connect")
    assert "No incidents match" in d.page_source
    d.execute_script("window.__same_page = true;")

    # an alert arrives: its row appears without a reload, its time in the browser's zone
    _post(base, "browser-1", "Disk full on db-1")
    inc = _row_of(d, "Disk full on db-1")
    shown = d.find_element(By.CSS_SELECTOR, f"#row-{inc} time")
    iso = shown.get_attribute("datetime")
    local, utc = d.execute_script(
        "const t = new Date(arguments[0]), f = {dateStyle: 'medium', timeStyle: 'short'};"
        "return [t.toLocaleString([], f), t.toLocaleString([], {...f, timeZone: 'UTC'})];",
        iso,
    )
    assert shown.text == local != utc, (shown.text, local, utc)
    assert "s ago)" in d.find_element(By.CSS_SELECTOR, f"#row-{inc} .ago").text
    shoot(d, "incidents-live-desktop")

    # the REST API acknowledges it: the row changes; resolves it: it leaves the open list
    _api(base, inc, "acknowledge", by="carol")
    until(lambda: "Acknowledged by carol via api" in _text(d, f"row-{inc}"), "row unchanged")
    _api(base, inc, "resolve")
    until(lambda: not d.find_elements(By.ID, f"row-{inc}"), "resolved row still listed")
    assert d.execute_script("return window.__same_page === true;"), "the page reloaded"

    # a storm: forty alerts in a row; the page asks for its rows at most once a second
    d.execute_script(
        "window.__refreshes = 0;"
        "document.body.addEventListener('htmx:beforeRequest', () => window.__refreshes++);"
    )
    started = time.monotonic()
    for n in range(40):
        _post(base, f"storm-{n}", f"Storm {n}")
    until(lambda: len(d.find_elements(By.CSS_SELECTOR, "li.incident")) == 40, "storm rows")
    took = time.monotonic() - started
    refreshes = d.execute_script("return window.__refreshes;")
    assert 1 <= refreshes <= took + 2, (refreshes, took)

    # the stream is cut off from here until the restarted pager has a new alert
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/v1/stream*"]})


def after_the_restart(d: Any, base: str) -> None:
    By = _by()
    until(lambda: "lost" in _text(d, "live"), "the page did not see the stream drop")
    _post(base, "browser-2", "Checkout 500s")
    assert "Checkout 500s" not in _text(d, "rows")
    d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    # it reconnects (backing off, up to 30 s) with since= the record after the last it saw
    until(lambda: _text(d, "live") == "Live", "the stream did not come back", wait=45)
    inc = _row_of(d, "Checkout 500s")
    assert d.execute_script("return window.__same_page === true;"), "the page reloaded"

    # acknowledge with the row's button
    click_and_load(
        d, d.find_element(By.CSS_SELECTOR, f"#row-{inc} button[data-action=acknowledge]")
    )
    until(lambda: "Acknowledged by alice via web" in _text(d, f"row-{inc}"), "no ack")
    click_and_load(d, d.find_element(By.CSS_SELECTOR, f"#row-{inc} a.title"))
    assert "Acknowledged by alice via web" in _text(d, "incident-status")
    assert "Acknowledged by alice via web" in _text(d, "timeline")
    api = httpx.get(f"{base}/api/v1/incidents/{inc}", headers=auth()).json()
    assert api["status"] == "acknowledged" and api["acknowledged_by"] == "alice"
    assert any(t["via"] == "web" and t["by"] == "alice" for t in api["timeline"])

    # an incident whose title, source and details are long words
    _post_long(base)
    d.get(f"{base}/")
    long_inc = _row_of(d, LONG_TITLE)

    # every page, desktop and phone, light and dark; on a phone also before its scripts
    # run (held back: the rows, times and schedule bars as the server sent them)
    pages = [*PAGES, ("incident", f"/incidents/{inc}"), ("long", f"/incidents/{long_inc}")]
    for width, height, suffix in ((1280, 900, "desktop"), (360, 780, "360")):
        d.set_window_size(width, height)
        if width <= 360:
            d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/static/*.js"]})
            for name, path in pages:
                d.get(base + path)
                styled(d, name)
                assert_fits(d, f"{name} before its scripts", width)
            d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        for dark in (False, True):
            scheme = "dark" if dark else "light"
            d.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
            )
            for name, path in pages:
                d.get(base + path)
                _check_page(d, name, width)
                if name == "incidents" and width <= 360:
                    _live_refresh_fits(d, width)
                shoot(d, f"{name}-{suffix}{'-dark' if dark else ''}")
            if dark:
                bg = d.execute_script("return getComputedStyle(document.body).backgroundColor;")
                assert bg == "rgb(18, 19, 22)", bg
    # a keyboard user starts at "Skip to content"
    d.find_element(By.TAG_NAME, "body").send_keys("\ue004")  # Tab
    assert d.switch_to.active_element.text == "Skip to content"
    d.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "light"}]},
    )
    # alice is a responder: she sees where to send alerts, not the keys
    d.get(f"{base}/services")
    assert "R0UT1NGKEY" not in d.page_source and "is shown to admins" in d.page_source
    click_and_load(d, d.find_element(By.CSS_SELECTOR, "form.me button"))  # sign out
    until(lambda: "/login" in d.current_url, "not signed out")
    _check_page(d, "login", 360)
    shoot(d, "login-360")

    # a viewer sees the incident but no action buttons
    sign_in(d, base, "bob", PASSWORDS["bob"])
    d.get(f"{base}/?status=all")
    assert inc in d.find_element(By.ID, "rows").get_attribute("innerHTML")
    assert d.find_elements(By.CSS_SELECTOR, "button[data-action]") == []
    d.get(f"{base}/incidents/{inc}")
    assert d.find_elements(By.CSS_SELECTOR, "button[data-action]") == []
    assert "viewer" in _text(d, "viewer-note")
    shoot(d, "incident-viewer-360")
    problems = console_problems(d)
    assert not problems, problems


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_dashboard_in_chromium(tmp_path: Path) -> None:
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    port = _free_port()
    text = dashboard_text(tmp_path / "data").replace(
        "listen: 127.0.0.1:0", f"listen: 127.0.0.1:{port}", 1
    ).replace("routing:\n", (
        f"  - id: {LONG_SERVICE}\n    escalation_policy: default\n"
        "    integrations: [{type: generic, key: gen-long}]\nrouting:\n"), 1)  # fmt: skip

    def config() -> Config:
        return load_config_text(text)

    base = f"http://127.0.0.1:{port}"
    with trio.fail_after(300):
        d = await trio.to_thread.run_sync(driver, 1280, 900)
        try:
            async with running_pager(config()):
                await trio.to_thread.run_sync(before_the_restart, d, base)
            async with running_pager(config()):  # the same port and data folder
                await trio.to_thread.run_sync(after_the_restart, d, base)
        finally:
            await trio.to_thread.run_sync(d.quit)
