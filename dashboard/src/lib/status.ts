// An agent's status for the live metrics panel, from the server's agent row and its
// supervised process (if any).
import type { Agent, AgentMetrics } from "../api";

export type StatusKey = "running" | "active" | "starting" | "stopped" | "crashed" | "budget_exhausted";

export interface Status {
  key: StatusKey;
  label: string;
}

const LABELS: Record<StatusKey, string> = {
  running: "🟢 Running",
  active: "🟢 Active",
  starting: "🟡 Starting",
  stopped: "⏹ Stopped",
  crashed: "🔴 Crashed",
  budget_exhausted: "🟠 Budget exhausted",
};

/** Stopped (on the server) wins; then a crashed or budget-less process; then a budget spent to
 * its limit (the runtime refuses every call); then what the supervisor says; "active" for an
 * agent without a supervised process, which takes calls. */
export function agentStatus(agent: Agent, m?: AgentMetrics | null): Status {
  const state = m?.process?.state;
  const b = agent.budget;
  let key: StatusKey;
  if (agent.status === "stopped" || state === "stopped" || state === "stopping") key = "stopped";
  else if (state === "crashed") key = "crashed";
  else if (state === "budget_exhausted" || (b.limit_usd > 0 && b.spent_usd >= b.limit_usd)) key = "budget_exhausted";
  else if (state === "starting" || state === "restarting") key = "starting";
  else if (state === "running") key = "running";
  else key = "active";
  return { key, label: LABELS[key] };
}
