"""The Analytics page in Debian's chromium (selenium, as tests/browser/test_dashboard_browser.py):
a week of history (incidents acknowledged by SMS, Slack and the web, one never acknowledged,
pages by day and night) journaled into a running pager; a viewer signs in, follows the nav
entry, sees the figures, four server-made SVG charts and the tables, filters by service and
by week, and the CSV link answers a CSV with the same session. Screenshots at desktop size
and 360 px, light and dark, go to test-artifacts/screenshots (analytics-*.png). At 360 px
nothing is wider than the screen and no table scrolls sideways, before the page's scripts
run and after, with a service whose name is long and an alert whose name is one long word.
(Named to run after test_dashboard_browser.py, which empties that folder when it starts.)"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trio

from pager.config import load_config_text
from pager.core.events import SCHEMA_VERSION, encode
from pager.store.base import Draft
from pager.store.jsonl import JsonlLog

from ..core.analytics_log import Log
from ..harness import running_pager
from ..web.dashboard_helpers import PASSWORDS, dashboard_text
from .browser_helpers import (
    CHROMEDRIVER,
    CHROMIUM,
    assert_fits,
    click_and_load,
    driver,
    shoot,
    sign_in,
    styled,
    until,
)

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="needs Debian's chromium and chromium-driver (scripts/setup --test installs them)",
)


# a service whose name is wider than a phone's select, and an alert name that is one word
LONG_SERVICE = "checkout-europe-west-primary-replica-lag-storage"
LONG_ALERT = "KubePersistentVolumeFillingUpInTheNextFourHoursOnReplicaSetStorageClassGp3"


def week_of_history(now: datetime) -> Log:
    """Six days of incidents on checkout and payments, each day a little different."""
    log = Log()
    n = 0
    for day in range(6, 0, -1):
        base = (now - timedelta(days=day)).replace(hour=9, minute=0, second=0, microsecond=0)
        for k in range(day % 3 + 1):
            n += 1
            iid = f"hist-{n}"
            at = base + timedelta(hours=5 * k)  # 09:00, 14:00, 19:00
            service = "payments" if n % 3 == 0 else "checkout"
            log.open(iid, at, service=service, key=f"disk-{n % 2}", title="Disk full",
                     labels={"alertname": "DiskFull" if n % 2 else "HighLatency"})  # fmt: skip
            user = "alice" if n % 2 else "bob"
            log.escalate(iid, at, 0, (user,), policy="default")
            log.notify(iid, at, user, "sms", sent_after=1, receipt=(4, "delivered"))
            if n % 4 == 0:
                log.notify(iid, at + timedelta(minutes=1), user, "voice", fail=True)
            if n % 5 != 0:  # every fifth one nobody acknowledges
                via = ("sms", "slack", "web")[n % 3]
                log.ack(iid, at + timedelta(seconds=40 * n), user, via)
            log.resolve(iid, at + timedelta(minutes=20 + 7 * n), user, "web")
    # a night page: 03:00 UTC yesterday
    night = (now - timedelta(days=1)).replace(hour=3, minute=0, second=0, microsecond=0)
    log.open("hist-night", night, key="night").escalate("hist-night", night, 0, ("alice",))
    log.notify("hist-night", night, "alice", "voice", sent_after=2)
    log.ack("hist-night", night + timedelta(minutes=4), "alice", "voice")
    log.resolve("hist-night", night + timedelta(minutes=30), "alice", "voice")
    # and one on the service with the long name
    at = (now - timedelta(days=2)).replace(hour=11, minute=0, second=0, microsecond=0)
    log.open("hist-long", at, service=LONG_SERVICE, key="long", title=LONG_ALERT,
             labels={"alertname": LONG_ALERT}).escalate("hist-long", at, 0, ("bob",))  # fmt: skip
    log.resolve("hist-long", at + timedelta(minutes=9), "bob", "web")
    return log


def scenario(base: str) -> None:
    from selenium.webdriver.common.by import By

    d = driver(1280, 1000)
    try:
        sign_in(d, base, "bob", PASSWORDS["bob"])  # a viewer
        until(lambda: d.current_url.rstrip("/") == base, "not signed in")
        click_and_load(d, d.find_element(By.LINK_TEXT, "Analytics"))
        assert d.current_url.startswith(f"{base}/analytics")
        styled(d, "analytics")
        assert_fits(d, "analytics", 1280)
        figures = d.find_element(By.ID, "figures").text
        assert "14\nopened" in figures, figures
        assert len(d.find_elements(By.CSS_SELECTOR, "svg.chart")) == 4
        bars = d.find_elements(By.CSS_SELECTOR, "svg.chart rect.c-ack")
        assert len(bars) >= 6, "the charts have no bars"
        people = d.find_element(By.ID, "people").text
        assert "alice" in people.lower() and "bob" in people.lower()
        assert "DiskFull" in d.find_element(By.ID, "noisy").text
        d.execute_script("window.scrollTo(0, 0);")
        shoot(d, "analytics-desktop")
        csv_link = d.find_element(By.ID, "csv-incidents").get_attribute("href")
        cookie = d.get_cookie("pager_session")["value"]

        # one service, by week
        d.get(f"{base}/analytics?service=payments&group_by=week")
        assert "payments" in d.find_element(By.TAG_NAME, "main").text
        shoot(d, "analytics-payments-by-week-desktop")

        # a phone: before the scripts run (held back) and after; the stylesheet applied
        # (a width measured before it is the unstyled page's, which nobody sees)
        d.set_window_size(360, 780)
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/static/*.js"]})
        for path in ("/analytics", f"/analytics?service={LONG_SERVICE}"):
            d.get(base + path)
            styled(d, path)
            assert_fits(d, f"{path} before its scripts", 360)
        d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        d.get(f"{base}/analytics?service={LONG_SERVICE}")
        styled(d, "analytics")
        assert_fits(d, f"analytics of {LONG_SERVICE}", 360)
        shoot(d, "analytics-long-names-360")
        d.get(f"{base}/analytics")
        styled(d, "analytics")
        assert LONG_ALERT in d.find_element(By.ID, "noisy").text
        assert_fits(d, "analytics", 360)
        shoot(d, "analytics-360")
        d.execute_script("window.scrollTo(0, 900);")
        shoot(d, "analytics-360-charts")
        d.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
        )
        d.get(f"{base}/analytics")
        styled(d, "analytics")
        assert_fits(d, "analytics, dark", 360)
        bg = d.execute_script("return getComputedStyle(document.body).backgroundColor;")
        assert bg == "rgb(18, 19, 22)", bg
        shoot(d, "analytics-360-dark")
        d.set_window_size(1280, 1000)
        d.get(f"{base}/analytics")
        shoot(d, "analytics-desktop-dark")
    finally:
        d.quit()
    with httpx.Client(cookies={"pager_session": cookie}) as client:
        r = client.get(csv_link)
        assert r.status_code == 200 and r.content.startswith("\ufeffid,number,".encode())
        assert r.text.count("\r\n") == 15  # the header and 14 incidents


async def write_history(data: Path, log: Log) -> None:
    """The history as pager would have journaled it, written before pager starts (so its
    actors do not act on it: every notification in it is settled)."""
    out = JsonlLog.open(data, fsync=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(out.run)
        for ev, at in log.records:
            await out.append([Draft(ev.TYPE, ev.subject, at, encode(ev), SCHEMA_VERSION, ev)])
        await out.close()


async def test_analytics_page_in_chromium(tmp_path: Path) -> None:
    with trio.fail_after(120):
        await write_history(tmp_path / "data", week_of_history(datetime.now(UTC)))
        text = dashboard_text(tmp_path / "data").replace("routing:\n", (
            f"  - id: {LONG_SERVICE}\n    escalation_policy: default\n"
            "    integrations: [{type: generic, key: gen-long}]\nrouting:\n"), 1)  # fmt: skip
        async with running_pager(load_config_text(text)) as run:
            await trio.to_thread.run_sync(scenario, run.urls[0])
