"""The unknown-key throttle: a burst of misses per client, refilled over time, a bounded
table, IPv6 counted per /64 (pure: time is passed in)."""

from __future__ import annotations

import pytest

from pager.core.ratelimit import MissThrottle, client_of


def test_a_client_may_miss_a_burst_then_waits_for_its_budget() -> None:
    t = MissThrottle(3, 60.0)
    for _ in range(3):
        assert t.blocked("192.0.2.1", 0.0) == 0.0
        t.missed("192.0.2.1", 0.0)
    assert t.blocked("192.0.2.1", 0.0) == pytest.approx(20.0)
    assert t.blocked("192.0.2.2", 0.0) == 0.0  # another client is not held
    assert t.blocked("192.0.2.1", 19.0) == pytest.approx(1.0)
    assert t.blocked("192.0.2.1", 20.0) == 0.0
    t.missed("192.0.2.1", 20.0)
    assert t.blocked("192.0.2.1", 20.0) > 0
    # asking does not spend: the wait only shrinks
    assert t.blocked("192.0.2.1", 30.0) == pytest.approx(10.0)
    assert t.blocked("192.0.2.1", 30.0) == pytest.approx(10.0)


def test_misses_past_the_budget_do_not_push_the_wait_out_forever() -> None:
    t = MissThrottle(2, 60.0)
    for _ in range(100):
        t.missed("192.0.2.1", 0.0)
    assert t.blocked("192.0.2.1", 0.0) == pytest.approx(30.0)


def test_the_table_is_bounded_and_forgets_clients_whose_budget_grew_back_first() -> None:
    t = MissThrottle(2, 60.0, max_clients=16)
    t.missed("192.0.2.1", 0.0)
    t.missed("192.0.2.1", 0.0)  # held until 30 s
    for i in range(1000):
        t.missed(f"10.0.{i // 250}.{i % 250}", 10.0 + i / 1000)
        assert len(t) <= 16
    t2 = MissThrottle(2, 60.0, max_clients=4)
    for i in range(3):
        t2.missed(f"10.0.0.{i}", 0.0)
    t2.missed("192.0.2.9", 195.0)
    t2.missed("192.0.2.9", 195.0)
    t2.missed("10.0.1.1", 200.0)  # full: the three refilled clients go, the held one stays
    assert len(t2) == 2 and t2.blocked("192.0.2.9", 200.0) > 0


def test_off_when_misses_is_zero() -> None:
    t = MissThrottle(0)
    for _ in range(10):
        t.missed("192.0.2.1", 0.0)
    assert t.blocked("192.0.2.1", 0.0) == 0.0 and len(t) == 0


def test_clients_are_addresses_and_ipv6_slash_64s() -> None:
    assert client_of("192.0.2.1:5555") == client_of("192.0.2.1") == "192.0.2.1"
    assert client_of("[2001:db8:1:2::7]:443") == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:3::1") != client_of("2001:db8:1:2::1")
    assert client_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_of(None) == "-"
