import { describe, expect, it } from "vitest";
import type { Agent, AgentMetrics } from "../api";
import { agentStatus } from "./status";

const agent = (status = "active", spent = 1, limit = 10): Agent => ({
  id: 1,
  name: "a",
  owner_id: 1,
  project: "p",
  provider: "openai",
  status,
  stop_requested: status === "stopped",
  budget: { agent_id: 1, limit_usd: limit, spent_usd: spent, leased_usd: 0, available_usd: limit - spent },
});
const proc = (state: string): AgentMetrics => ({
  agent_id: 1,
  process: { state, pid: 1, restarts: 0, reason: "", updated_at: "", stop: false },
  metrics: null,
  calls: null,
});

describe("agentStatus", () => {
  it("says running, crashed or stopped after the supervisor", () => {
    expect(agentStatus(agent(), proc("running")).label).toBe("🟢 Running");
    expect(agentStatus(agent(), proc("crashed")).key).toBe("crashed");
    expect(agentStatus(agent("stopped"), proc("running")).key).toBe("stopped");
  });
  it("says budget exhausted when the budget is spent, not active", () => {
    expect(agentStatus(agent("active", 10, 10)).key).toBe("budget_exhausted");
    expect(agentStatus(agent(), proc("budget_exhausted")).key).toBe("budget_exhausted");
  });
  it("is active without a supervised process", () => {
    expect(agentStatus(agent()).key).toBe("active");
  });
});
