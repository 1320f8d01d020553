"""The sign-in throttle (pager.core.signin_throttle): a sliding window per key, an attempt
counted before the password is checked (so concurrent guesses cannot all pass the check),
taken back when it succeeds, and a bounded table that forgets a name under attack last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pager.core.signin_throttle import SigninThrottle

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def test_window_slides() -> None:
    t = SigninThrottle()
    for i in range(3):
        assert t.attempt([("user:a", 3)], NOW + timedelta(minutes=i), WINDOW) == 0
    assert t.wait([("user:a", 3)], NOW + timedelta(minutes=3), WINDOW) == 12 * 60
    assert t.wait([("user:b", 3)], NOW + timedelta(minutes=3), WINDOW) == 0
    assert t.wait([("user:a", 3)], NOW + timedelta(minutes=15), WINDOW) == 0


def test_attempts_are_counted_before_they_are_checked() -> None:
    """Ten guesses that arrive together, each checked before any verification ends: only
    the first three go ahead (the old check-then-count let all ten through)."""
    t = SigninThrottle()
    limits = [("user:alice", 3), ("addr:10.0.0.1", 12)]
    allowed = [t.attempt(limits, NOW, WINDOW) == 0 for _ in range(10)]
    assert allowed == [True] * 3 + [False] * 7
    # a refused attempt counts nothing: the address has three, not ten
    assert t.wait([("addr:10.0.0.1", 4)], NOW, WINDOW) == 0


def test_a_success_takes_back_its_own_attempt_only() -> None:
    t = SigninThrottle()
    limits = [("user:alice", 3)]
    t.attempt(limits, NOW, WINDOW)  # a guess elsewhere, failed
    t.attempt(limits, NOW + timedelta(seconds=1), WINDOW)  # alice, right password
    t.succeeded(["user:alice"], NOW + timedelta(seconds=1))
    t.attempt(limits, NOW + timedelta(seconds=2), WINDOW)
    # two failures stand: one more attempt, then the name is held
    assert t.attempt(limits, NOW + timedelta(seconds=3), WINDOW) == 0
    assert t.attempt(limits, NOW + timedelta(seconds=4), WINDOW) > 0


def test_the_table_is_bounded_and_a_name_under_attack_is_forgotten_last() -> None:
    t = SigninThrottle(max_keys=1000)
    for i in range(3):
        t.attempt([("user:alice", 3)], NOW + timedelta(seconds=i), WINDOW)
    # a spray of 50,000 made-up names within the window
    for n in range(50_000):
        t.attempt([(f"name:x{n}", 3)], NOW + timedelta(seconds=10), WINDOW)
        assert len(t) <= 1000
    assert t.wait([("user:alice", 3)], NOW + timedelta(seconds=11), WINDOW) > 0
    # past the window everything may be forgotten to make room
    later = NOW + WINDOW + timedelta(minutes=1)
    t.attempt([("name:new", 3)], later, WINDOW)
    assert t.wait([("user:alice", 3)], later, WINDOW) == 0


def test_each_key_keeps_at_most_its_limit() -> None:
    t = SigninThrottle()
    for i in range(100):
        t.attempt([("user:a", 5)], NOW + timedelta(minutes=20 * i), WINDOW)
    assert len(t._failures["user:a"]) <= 5
