import { beforeEach, describe, expect, it, vi } from "vitest";
import { createPinia, setActivePinia } from "pinia";
import { DISMISS_ACTION_MS, DISMISS_MS, useNotifications } from "./notifications";

const at = "2026-01-02T14:23:45Z";

describe("notifications", () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    vi.useFakeTimers();
  });

  it("pops up for breaker trips, PII and budget warnings, and for nothing else", () => {
    const n = useNotifications();
    n.fromEvent({ type: "BREAKER_EVENT", agent_id: 1, at, model: "gpt-4o", state: "open" }, "lead-gen", "openai");
    n.fromEvent({ type: "BREAKER_EVENT", agent_id: 1, at, model: "gpt-4o", state: "closed" }, "lead-gen");
    n.fromEvent({ type: "PII_ALERT", agent_id: 1, at, findings: 2, calls: 1, entities: ["EMAIL"] }, "lead-gen");
    n.fromEvent(
      { type: "COST_ALERT", agent_id: 1, at, alert: { threshold_pct: 75, recommended_increase_usd: 25, message: "m" } },
      "lead-gen",
    );
    n.fromEvent({ type: "AGENT_EVENT", agent_id: 1, at, event: "usage" }, "lead-gen");
    expect(n.notices.map((x) => x.kind)).toEqual(["breaker", "pii", "budget"]);
    expect(n.notices[0].lines[0]).toBe("Service: openai / gpt-4o");
    expect(n.notices[1].lines.join(" ")).toContain("[EMAIL]");
    expect(n.notices[2].increaseUsd).toBe(25);
  });

  it("keeps one notice per open breaker, adding up what it saved", () => {
    const n = useNotifications();
    const open = { type: "BREAKER_EVENT", agent_id: 1, at, model: "gpt-4o", state: "open" };
    n.fromEvent({ ...open, failures: 5 }, "lead-gen", "openai");
    n.fromEvent({ ...open, calls_saved: 9, usd_saved: 0.09 }, "lead-gen", "openai");
    n.fromEvent({ ...open, calls_saved: 4, usd_saved: 0.04 }, "lead-gen", "openai");
    n.fromEvent({ ...open, model: "gpt-4o-mini", calls_saved: 1, usd_saved: 0.01 }, "lead-gen", "openai");
    expect(n.notices.length).toBe(2);
    expect(n.notices[0].lines).toContain("Calls saved: 13");
    expect(n.notices[0].lines).toContain("Failures: 5"); // from the change to open, kept
    expect(n.notices[1].lines.join(" ")).not.toContain("Failures");
    expect(n.notices[0].lines.join(" ")).toContain("Saved: $0.13");
    expect(n.notices[1].lines).toContain("Calls saved: 1");
  });

  it("dismisses itself, later when it has buttons, and closes by hand", () => {
    const n = useNotifications();
    n.fromEvent({ type: "PII_ALERT", agent_id: 1, at, findings: 1, calls: 1 }, "a");
    n.fromEvent({ type: "COST_ALERT", agent_id: 1, at, alert: { threshold_pct: 50 } }, "a");
    vi.advanceTimersByTime(DISMISS_MS);
    expect(n.notices.map((x) => x.kind)).toEqual(["budget"]);
    n.close(n.notices[0].id);
    expect(n.notices).toEqual([]);
    n.fromEvent({ type: "COST_ALERT", agent_id: 1, at, alert: { threshold_pct: 90 } }, "a");
    vi.advanceTimersByTime(DISMISS_ACTION_MS);
    expect(n.notices).toEqual([]);
  });
});
