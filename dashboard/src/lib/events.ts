// Live events (/ws) and the history loaded on open: severity, wording, and what the event
// log shows at all.
import { money } from "./format";

export interface LiveEvent {
  type: string;
  agent_id: number | null;
  at: string;
  [key: string]: unknown;
}

export type Severity = "INFO" | "WARN" | "ERROR";

/** Events that feed panels but are not log lines. */
export function logged(e: LiveEvent): boolean {
  if (e.type === "HEARTBEAT" || e.type === "STATE_UPDATE") return false;
  return !(e.type === "AGENT_EVENT" && e.event === "metrics");
}

export function severity(e: LiveEvent): Severity {
  switch (e.type) {
    case "BREAKER_EVENT":
      return e.state === "open" ? "ERROR" : e.state === "half_open" ? "WARN" : "INFO";
    case "COST_ALERT": {
      const pct = Number((e.alert as { threshold_pct?: number } | undefined)?.threshold_pct ?? 0);
      return pct >= 100 ? "ERROR" : "WARN";
    }
    case "PII_ALERT":
      return "WARN";
    case "UNAUTHORIZED":
      return "ERROR";
    case "CALL":
      return e.status === "ok" ? "INFO" : e.status === "blocked" ? "WARN" : "ERROR";
    case "AGENT_EVENT":
      if (e.event === "agent_crashed") return "ERROR";
      if (["stopped", "lease_expired", "agent_restarted"].includes(String(e.event))) return "WARN";
      return "INFO";
    default:
      return "INFO";
  }
}

/** One line for the event log; `name` turns an agent id into its name. */
export function describe(e: LiveEvent, name: (id: number | null) => string): string {
  const agent = name(e.agent_id);
  switch (e.type) {
    case "AGENT_EVENT":
      switch (e.event) {
        case "usage":
          return `${agent}: ${e.calls} call(s), ${money(Number(e.cost_usd))}`;
        case "lease_granted":
          return `${agent}: lease of ${money(Number(e.granted_usd))} granted`;
        case "lease_refreshed":
          return Number(e.granted_usd) > 0
            ? `${agent}: lease refreshed with ${money(Number(e.granted_usd))}`
            : `${agent}: lease refresh granted nothing: the budget is used up`;
        case "stopped":
          return `${agent}: stopped by ${e.by_role === "admin" ? "an admin" : "its developer"} (${e.by ?? "?"})`;
        case "resumed":
          return `${agent}: resumed (${e.by ?? "?"})`;
        case "agent_crashed":
          return `${agent}: process crashed${e.reason ? `: ${e.reason}` : ""}`;
        default:
          return `${agent}: ${String(e.event).replace(/_/g, " ")}`;
      }
    case "COST_ALERT": {
      const alert = e.alert as { message?: string; recommended_action?: string } | undefined;
      return `${agent}: ${alert?.message ?? "budget alert"}`;
    }
    case "PII_ALERT": {
      const entities = (e.entities as string[] | undefined) ?? [];
      const request = Number(e.request_findings ?? 0);
      const where = request ? `, ${request} in requests` : "";
      return `${agent}: ${e.findings} PII finding(s) in ${e.calls} call(s)${where}${entities.length ? ` (${entities.join(", ")})` : ""}`;
    }
    case "BREAKER_EVENT":
      return `${agent}: circuit breaker for ${e.model} is ${String(e.state).replace("_", "-")}`;
    case "CALL":
      return `${agent}: ${e.model} call ${e.status}, ${money(Number(e.cost_usd))}`;
    case "UNAUTHORIZED":
      return `${agent}: unauthorized ${String(e.kind).replace(/_/g, " ")}: ${e.detail}`;
    default:
      return `${agent}: ${e.type}`;
  }
}

/** Events that read the same in the log (the time aside) are one line with a count. */
export function sameLine(a: LiveEvent, b: LiveEvent): boolean {
  const { at: _a, lease_id: _l1, ...x } = a;
  const { at: _b, lease_id: _l2, ...y } = b;
  void [_a, _b, _l1, _l2];
  return JSON.stringify(x) === JSON.stringify(y);
}
