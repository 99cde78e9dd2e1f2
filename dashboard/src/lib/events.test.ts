import { describe, expect, it } from "vitest";
import { describe as words, logged, severity, type LiveEvent } from "./events";

const at = "2026-01-02T14:23:45Z";
const ev = (type: string, extra: Record<string, unknown> = {}): LiveEvent => ({ type, agent_id: 1, at, ...extra });

describe("severity", () => {
  it("colours breaker trips red, half-open yellow, closed blue", () => {
    expect(severity(ev("BREAKER_EVENT", { state: "open" }))).toBe("ERROR");
    expect(severity(ev("BREAKER_EVENT", { state: "half_open" }))).toBe("WARN");
    expect(severity(ev("BREAKER_EVENT", { state: "closed" }))).toBe("INFO");
  });
  it("warns on budget thresholds and errs on the exhausted budget", () => {
    expect(severity(ev("COST_ALERT", { alert: { threshold_pct: 75 } }))).toBe("WARN");
    expect(severity(ev("COST_ALERT", { alert: { threshold_pct: 100 } }))).toBe("ERROR");
  });
  it("warns on PII and stops, errs on crashes, failed calls and unauthorized actions", () => {
    expect(severity(ev("PII_ALERT"))).toBe("WARN");
    expect(severity(ev("AGENT_EVENT", { event: "stopped" }))).toBe("WARN");
    expect(severity(ev("AGENT_EVENT", { event: "agent_crashed" }))).toBe("ERROR");
    expect(severity(ev("AGENT_EVENT", { event: "usage" }))).toBe("INFO");
    expect(severity(ev("CALL", { status: "error" }))).toBe("ERROR");
    expect(severity(ev("CALL", { status: "blocked" }))).toBe("WARN");
    expect(severity(ev("UNAUTHORIZED"))).toBe("ERROR");
    expect(severity(ev("AGENT_EVENT", { event: "lease_refreshed", granted_usd: 0 }))).toBe("INFO");
  });
});

describe("the log", () => {
  it("leaves out heartbeats, state updates and progress reports", () => {
    expect(logged(ev("HEARTBEAT"))).toBe(false);
    expect(logged(ev("STATE_UPDATE"))).toBe(false);
    expect(logged(ev("AGENT_EVENT", { event: "metrics" }))).toBe(false);
    expect(logged(ev("AGENT_EVENT", { event: "usage" }))).toBe(true);
  });
  it("names the agent and who stopped it", () => {
    const line = words(ev("AGENT_EVENT", { event: "stopped", by: "user:1", by_role: "admin" }), () => "lead-gen");
    expect(line).toBe("lead-gen: stopped by an admin (user:1)");
  });
});
