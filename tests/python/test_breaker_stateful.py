"""Hypothesis stateful test: the breaker against a small reference model, on a manual clock."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import iron_cage as ic
from iron_cage import _core
from iron_cage.testing import ManualClock

THRESHOLD, COOLDOWN, MAX_PROBES, SUCCESSES = 3, 10.0, 2, 2


@dataclass
class Model:
    """The specification, written as plainly as possible."""

    now: float = 0.0
    state: str = "closed"
    generation: int = 0
    failures: int = 0
    open_until: float = 0.0
    probes: int = 0
    probe_successes: int = 0

    def move(self, to: str) -> None:
        self.state, self.generation = to, self.generation + 1
        self.failures = self.probes = self.probe_successes = 0

    def trip(self, retry_after: float | None) -> None:
        self.open_until = self.now + max(COOLDOWN, retry_after or 0.0)
        self.move("open")

    def admit(self) -> tuple[int, bool] | None:
        if self.state == "open" and self.now >= self.open_until:
            self.move("half_open")
        if self.state == "closed":
            return self.generation, False
        if self.state == "half_open" and self.probes < MAX_PROBES:
            self.probes += 1
            return self.generation, True
        return None

    def report(self, generation: int, probe: bool, outcome: str, retry_after: float | None) -> None:
        if generation != self.generation:
            return
        if self.state == "closed" and outcome == "success":
            self.failures = 0
        elif self.state == "closed" and outcome == "failure":
            self.failures += 1
            if self.failures >= THRESHOLD:
                self.trip(retry_after)
        elif self.state == "half_open" and probe:
            self.probes -= 1
            if outcome == "success":
                self.probe_successes += 1
                if self.probe_successes >= SUCCESSES:
                    self.move("closed")
            elif outcome == "failure":
                self.trip(retry_after)

    def visible_state(self) -> str:
        return "half_open" if self.state == "open" and self.now >= self.open_until else self.state


@dataclass
class Held:
    permit: _core.BreakerPermit
    generation: int
    probe: bool
    done: bool = False


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.core = _core.BreakerCore(
            "m",
            failure_threshold=THRESHOLD,
            cooldown_s=COOLDOWN,
            half_open_max_calls=MAX_PROBES,
            success_threshold=SUCCESSES,
            clock=self.clock,
        )
        self.model = Model()
        self.held: list[Held] = []

    @rule(seconds=st.sampled_from([0.0, 1.0, 4.5, 9.999, 10.0, 30.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.model.now += seconds

    @rule()
    def admit(self) -> None:
        expected = self.model.admit()
        try:
            permit = self.core.admit()
        except ic.CircuitOpenError:
            assert expected is None
            return
        assert expected is not None
        assert permit.is_probe == expected[1]
        self.held.append(Held(permit, *expected))

    @precondition(lambda self: any(not h.done for h in self.held))
    @rule(
        pick=st.integers(0, 10_000),
        outcome=st.sampled_from(["success", "failure", "release"]),
        retry_after=st.one_of(st.none(), st.sampled_from([5.0, 25.0])),
    )
    def report(self, pick: int, outcome: str, retry_after: float | None) -> None:
        open_permits = [h for h in self.held if not h.done]
        h = open_permits[pick % len(open_permits)]
        h.done = True
        if outcome == "success":
            assert h.permit.success()
        elif outcome == "failure":
            assert h.permit.failure(retry_after)
        else:
            assert h.permit.release()
        self.model.report(h.generation, h.probe, outcome, retry_after)
        assert not h.permit.success(), "a permit reports once"

    @invariant()
    def same_state(self) -> None:
        assert self.core.state == self.model.visible_state()


TestBreakerMachine = BreakerMachine.TestCase
