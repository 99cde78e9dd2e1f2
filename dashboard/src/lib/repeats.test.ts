import { describe, expect, it } from "vitest";
import { sameLine } from "./events";

describe("the log's repeats", () => {
  it("folds events that differ only in time and lease", () => {
    const a = { type: "AGENT_EVENT", agent_id: 1, at: "2026-01-02T14:23:45Z", event: "lease_refreshed", lease_id: "l1", granted_usd: 0 };
    expect(sameLine(a, { ...a, at: "2026-01-02T14:23:46Z", lease_id: "l2" })).toBe(true);
    expect(sameLine(a, { ...a, granted_usd: 1 })).toBe(false);
    expect(sameLine(a, { ...a, agent_id: 2 })).toBe(false);
  });
});
