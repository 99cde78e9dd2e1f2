"""Budget and Reservation: the reserve -> commit contract, bad input, thresholds, children."""

from __future__ import annotations

import gc
import math
import sys
from decimal import Decimal

import pytest

import iron_cage as ic


def state(b: ic.Budget) -> tuple[int, int, int, int, int]:
    return b.snapshot_micros()


def test_reserve_commit_release_accounting() -> None:
    b = ic.Budget(1.0)
    r = b.reserve(0.6)
    assert (b.reserved_usd, b.remaining_usd) == (0.6, 0.4)
    r.commit(0.25)
    assert (b.spent_usd, b.reserved_usd, b.remaining_usd) == (0.25, 0.0, 0.75)
    assert r.state == "committed"
    r2 = b.reserve("0.75")
    r2.release()
    assert r2.state == "released"
    assert state(b) == (1_000_000, 250_000, 0, 750_000, 0)


def test_exceeding_raises_with_numbers_and_changes_nothing() -> None:
    b = ic.Budget(1.0, name="agent-7")
    b.reserve(0.5).commit(0.5)
    held = b.reserve(0.3)
    before = state(b)
    with pytest.raises(ic.BudgetExceededError) as info:
        b.reserve(0.21)
    e = info.value
    assert (e.budget, e.limit_usd, e.spent_usd, e.reserved_usd, e.requested_usd) == (
        "agent-7",
        1.0,
        0.5,
        0.3,
        0.21,
    )
    assert math.isclose(e.remaining_usd, 0.2)
    assert "requested $0.21" in str(e) and "agent-7" in str(e)
    assert state(b) == before
    held.release()


def test_exact_fit_is_allowed() -> None:
    b = ic.Budget(Decimal("0.000003"))
    b.reserve(Decimal("0.000003")).commit("0.000003")
    assert b.remaining_usd == 0.0
    with pytest.raises(ic.BudgetExceededError):
        b.reserve("0.000001")


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (-1.0, "negative"),
        (float("nan"), "NaN"),
        (float("inf"), "infinite"),
        (Decimal("-0.01"), "negative"),
        (Decimal("NaN"), "NaN"),
        ("ten dollars", "not a decimal number"),
        (2e9, "maximum"),
        (-5, "negative"),
    ],
)
def test_bad_limits_are_clear_config_errors(value: object, needle: str) -> None:
    with pytest.raises(ic.ConfigError, match=needle) as info:
        ic.Budget(value)  # type: ignore[arg-type]
    assert "limit_usd" in str(info.value)


@pytest.mark.parametrize("value", [None, True, [1.0], object()])
def test_wrong_types_are_type_errors(value: object) -> None:
    with pytest.raises(TypeError, match="limit_usd must be an amount of USD"):
        ic.Budget(value)  # type: ignore[arg-type]


def test_bad_amounts_leave_state_unchanged() -> None:
    b = ic.Budget(1.0)
    r = b.reserve(0.5)
    before = state(b)
    for bad in (-0.1, float("nan"), "x"):
        with pytest.raises(ic.ConfigError):
            b.reserve(bad)
        with pytest.raises(ic.ConfigError):
            r.commit(bad)
    assert state(b) == before
    assert r.state == "pending"


def test_commit_twice_and_release_after_commit_are_errors() -> None:
    b = ic.Budget(1.0)
    r = b.reserve(0.5)
    r.commit(0.1)
    before = state(b)
    with pytest.raises(ic.ReservationError, match="already committed"):
        r.commit(0.1)
    with pytest.raises(ic.ReservationError, match="already committed"):
        r.release()
    r2 = b.reserve(0.1)
    r2.release()
    with pytest.raises(ic.ReservationError, match="already released"):
        r2.commit(0.1)
    assert state(b) == before


def test_context_manager_releases_unsettled_even_on_error() -> None:
    b = ic.Budget(1.0)
    with pytest.raises(ZeroDivisionError), b.reserve(0.4):
        _ = 1 / 0
    assert b.reserved_usd == 0.0
    with b.reserve(0.4) as r:
        r.commit(0.1)
    assert (b.spent_usd, b.reserved_usd) == (0.1, 0.0)


def test_dropped_reservation_releases() -> None:
    b = ic.Budget(1.0)
    b.reserve(0.9)
    gc.collect()
    assert b.reserved_usd == 0.0


def test_overrun_is_recorded_and_blocks_further_reservations() -> None:
    b = ic.Budget(1.0)
    b.reserve(0.2).commit(1.5)
    assert (b.spent_usd, b.overrun_usd, b.remaining_usd) == (1.5, 1.3, 0.0)
    with pytest.raises(ic.BudgetExceededError):
        b.reserve(0)
    b.set_limit(2.0)
    b.reserve(0.5).release()


def test_thresholds_fire_once_each_with_event_fields() -> None:
    b = ic.Budget(10.0, thresholds=[0.5, 0.9], name="t")
    events: list[ic.ThresholdEvent] = []
    cid = b.on_threshold(events.append)
    for _ in range(10):
        b.reserve(1.0).commit(0.99)
    assert [(e.budget, e.threshold) for e in events] == [("t", 0.5), ("t", 0.9)]
    assert math.isclose(events[0].spent_usd, 5.94) and math.isclose(events[1].spent_usd, 9.9)
    assert events[1].limit_usd == 10.0
    assert b.fired_thresholds == [0.5, 0.9]
    assert b.remove_callback(cid) and not b.remove_callback(cid)


def test_default_threshold_is_ninety_percent() -> None:
    b = ic.Budget(1.0)
    seen: list[float] = []
    b.on_threshold(lambda e: seen.append(e.threshold))
    b.reserve(0.89).commit(0.89)
    assert seen == []
    b.reserve(0.01).commit(0.01)
    assert seen == [0.9]


def test_raising_callback_does_not_break_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    b = ic.Budget(1.0)
    reported: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))

    def bad(_e: ic.ThresholdEvent) -> None:
        raise RuntimeError("subscriber bug")

    b.on_threshold(bad)
    b.reserve(1.0).commit(1.0)
    assert b.spent_usd == 1.0
    assert [str(e) for e in reported] == ["subscriber bug"]


@pytest.mark.parametrize("bad", [[0.0], [1.5], [float("nan")], [-0.1]])
def test_bad_thresholds(bad: list[float]) -> None:
    with pytest.raises(ic.ConfigError, match="threshold"):
        ic.Budget(1.0, thresholds=bad)


def test_child_draws_from_parent() -> None:
    team = ic.Budget(1.0, name="team")
    a = team.child(0.8, name="a")
    b = team.child(0.8, name="b")
    ra = a.reserve(0.7)
    with pytest.raises(ic.BudgetExceededError) as info:
        b.reserve(0.5)
    assert info.value.budget == "team"
    assert b.reserved_usd == 0.0
    ra.commit(0.7)
    assert (a.spent_usd, team.spent_usd, b.available_usd) == (0.7, 0.7, 0.3)
    assert a.parent is not None and a.parent.name == "team"
    with pytest.raises(ic.BudgetExceededError) as info2:
        a.reserve(0.2)
    assert info2.value.budget == "a"


def test_set_limit_validates() -> None:
    b = ic.Budget(1.0)
    with pytest.raises(ic.ConfigError):
        b.set_limit(-3)
    assert b.limit_usd == 1.0


def test_repr_shows_money() -> None:
    b = ic.Budget("12.5", name="x")
    assert repr(b) == 'Budget(name="x", limit=$12.50, spent=$0.00, reserved=$0.00, remaining=$12.50)'
