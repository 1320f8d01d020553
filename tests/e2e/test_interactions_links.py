"""Answering a page from an email or a Teams card (`GET`/`POST /a/{token}`), end to end on
the mock clock: the card reaches alice's Teams workflow (the stand-in) and the email is
built by the real email transport, each with Acknowledge / Resolve / Escalate links signed
with `auth.link_secret`. Opening a link acts on nothing (a confirm page; mail scanners follow
links); posting it acts, as alice, via teams or email, once: the same link again is refused,
also after a restart (from a snapshot or from the log alone). Expired, altered or foreign
links are refused and change nothing. Teams cannot edit a posted card: the service's Teams
channel gets a follow-up card that shows who acknowledged."""

from __future__ import annotations

import re
from email.message import EmailMessage

import httpx
import pytest
import trio

from pager.core.links import LinkClaims, sign_link
from pager.core.model import Status
from pager.store.memory import MemoryLog

from ..standins.scene import LINK_SECRET
from .interactions import PUBLIC_URL, VIRTUAL_DEADLINE, Scene, scene


def card_links(s: Scene, path: str = "/workflows/alice") -> dict[str, str]:
    (card,) = [doc for p, doc, _ in s.providers.teams.cards if p == path]
    actions = card["attachments"][0]["content"]["actions"]
    return {a["title"]: a["url"] for a in actions if "/a/" in a["url"]}


def mail_links(mail: EmailMessage) -> dict[str, str]:
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return dict(re.findall(r"^  (\w+): (https://\S+/a/\S+)$", text, re.M))


def path(url: str) -> str:
    assert url.startswith(PUBLIC_URL + "/a/")
    return url[len(PUBLIC_URL) :]


async def test_a_teams_card_link_confirms_then_acts_once_and_escalation_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: teams}]", teams_chat=True) as s:
            links = card_links(s)
            assert list(links) == ["Acknowledge", "Resolve", "Escalate"]
            ack = path(links["Acknowledge"])
            before = s.log.last_seq
            # opening the link (as a mail scanner or a preview would) acts on nothing
            for _ in range(2):
                r = await s.client.get(ack)
                assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
                assert r.headers["referrer-policy"] == "no-referrer"
                assert "Acknowledge incident #1?" in r.text and 'method="post"' in r.text
                assert "Alice Example" in r.text
            assert s.log.last_seq == before
            r = await s.client.post(ack)
            assert r.status_code == 200 and "acknowledged by Alice Example via Teams" in r.text
            assert ("Acknowledged by alice via teams", "alice", "teams") in s.timeline()
            await trio.sleep(1)  # the follow-up card goes out
            # once only: the same link again (either way) is refused and changes nothing
            before = s.log.last_seq
            for method in ("POST", "GET"):
                r = await s.client.request(method, ack)
                assert r.status_code == 403 and "used already" in r.text
            assert s.log.last_seq == before
            await trio.sleep(30 * 60)
            assert s.paged_users() == ["alice"] and s.providers.slack.messages == []
            # the follow-up card in the service's channel shows who acknowledged
            channel = [doc for p, doc, _ in s.providers.teams.cards if p == "/workflows/checkout"]
            facts = channel[-1]["attachments"][0]["content"]["body"][2]["facts"]
            assert {"title": "Acknowledged by", "value": "Alice Example"} in facts


async def test_an_email_link_resolves(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: email}]") as s:
            (mail,) = s.email.mails
            links = mail_links(mail)
            assert list(links) == ["Acknowledge", "Resolve", "Escalate"]
            html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
            assert all(url.replace("&", "&amp;") in html for url in links.values())
            r = await s.client.post(path(links["Resolve"]))
            assert r.status_code == 200 and "resolved by Alice Example via email" in r.text
            assert s.state.incidents["inc-1"].status is Status.RESOLVED
            assert ("Resolved by alice via email", "alice", "email") in s.timeline()
            # another of the mail's links on the now resolved incident: a polite answer
            before = s.log.last_seq
            r = await s.client.get(path(links["Acknowledge"]))
            assert r.status_code == 200 and "Already resolved" in r.text and "<form" not in r.text
            r = await s.client.post(path(links["Acknowledge"]))
            assert r.status_code == 409 and "is already resolved (by Alice Example)" in r.text
            assert s.log.last_seq == before


@pytest.mark.parametrize("restart_from", ["snapshot", "log"])
async def test_a_used_link_stays_used_after_a_restart(
    restart_from: str, autojump_clock: trio.testing.MockClock
) -> None:
    log = MemoryLog()
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: email}]", log=log) as s:
            links = mail_links(s.email.mails[0])
            assert (await s.client.post(path(links["Acknowledge"]))).status_code == 200
            assert (await s.client.get(path(links["Resolve"]))).status_code == 200
        if restart_from == "log":
            log._snapshot = None  # replay everything
        else:
            assert log.load_snapshot() is not None  # written at shutdown
        async with scene("[{after: 0m, via: email}]", log=log, trigger=False) as s:
            before = s.log.last_seq
            r = await s.client.post(path(links["Acknowledge"]))
            assert r.status_code == 403 and "used already" in r.text
            assert s.log.last_seq == before
            # the mail's other links were not used: they still work
            r = await s.client.post(path(links["Resolve"]))
            assert r.status_code == 200 and "resolved" in r.text


async def test_expired_altered_and_foreign_links_are_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: email}]") as s:
            ack = path(mail_links(s.email.mails[0])["Acknowledge"])
            token = ack.rsplit("/", 1)[1]
            payload, _, signature = token.partition(".")
            now = s.run.system.clock.now()
            forged = sign_link(  # right shape, wrong secret
                "guessed-secret", LinkClaims("alice", "inc-1", "resolve", "inc-1-n1", now)
            )
            for_bob = sign_link(  # right secret, but bob is nobody pager knows any more
                LINK_SECRET,
                LinkClaims("robert", "inc-1", "resolve", "inc-1-n1", now.replace(year=2099)),
            )
            before = s.log.last_seq
            for bad in (
                f"/a/{payload}.{signature[::-1]}",
                f"/a/{payload[:-4]}.{signature}",
                f"/a/{forged}",
                f"/a/{for_bob}",
                "/a/nonsense",
            ):
                for method in ("GET", "POST"):
                    r = await s.client.request(method, bad)
                    assert r.status_code == 403, (bad, method)
                    assert token not in r.text
            assert s.log.last_seq == before
            await trio.sleep(25 * 3600)  # links live 24 hours (bob was paged meanwhile)
            before = s.log.last_seq
            r = await s.client.post(ack)
            assert r.status_code == 403 and "expired" in r.text
            assert s.log.last_seq == before
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED


async def test_without_a_link_secret_there_are_no_links(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: email}]", link_secret="") as s:
            assert mail_links(s.email.mails[0]) == {}
            token = sign_link(
                LINK_SECRET,
                LinkClaims(
                    "alice", "inc-1", "resolve", "n", s.run.system.clock.now().replace(year=2099)
                ),
            )
            r = await s.client.post(f"/a/{token}")
            assert r.status_code == 404 and isinstance(r, httpx.Response)
