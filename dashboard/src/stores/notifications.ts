// Pop-up notifications for the events that need someone: a breaker trip, PII caught, a budget
// threshold. They close by themselves after a while or with their close button.
import { defineStore } from "pinia";
import { ref } from "vue";
import type { LiveEvent } from "../lib/events";
import { money } from "../lib/format";

export interface Notice {
  id: number;
  kind: "breaker" | "pii" | "budget";
  title: string;
  lines: string[];
  agentId: number | null;
  /** budget warnings: the recommended increase */
  increaseUsd?: number;
  /** breaker notices: the agent and model, and what it saved while this notice is up */
  key?: string;
  callsSaved?: number;
  usdSaved?: number;
  /** breaker notices: the failures that tripped it (sent with the change to open) */
  failures?: number;
  level: "warn" | "error";
}

export const DISMISS_MS = 10_000;
export const DISMISS_ACTION_MS = 30_000;

export const useNotifications = defineStore("notifications", () => {
  const notices = ref<Notice[]>([]);
  let next = 0;
  const timers = new Map<number, ReturnType<typeof setTimeout>>();

  function add(n: Omit<Notice, "id">): void {
    const id = ++next;
    notices.value.push({ ...n, id });
    if (notices.value.length > 5) close(notices.value[0].id);
    timers.set(id, setTimeout(() => close(id), n.kind === "budget" ? DISMISS_ACTION_MS : DISMISS_MS));
  }

  function close(id: number): void {
    clearTimeout(timers.get(id));
    timers.delete(id);
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  /** A notice for the event, if it is one of the three kinds. */
  function fromEvent(e: LiveEvent, agent: string, provider?: string): void {
    if (e.type === "BREAKER_EVENT" && e.state === "open") {
      // A runtime reports what an open breaker saves with every flush: one notice per breaker,
      // its totals growing, rather than one pop-up a second.
      const key = `${e.agent_id}/${e.model}`;
      const shown = notices.value.find((n) => n.kind === "breaker" && n.key === key);
      const callsSaved = (shown?.callsSaved ?? 0) + Number(e.calls_saved ?? 0);
      const usdSaved = (shown?.usdSaved ?? 0) + Number(e.usd_saved ?? 0);
      const saves = shown?.callsSaved != null || e.calls_saved != null;
      // Only the change to open says how many failures tripped it; later events keep it.
      const failures = e.failures != null ? Number(e.failures) : shown?.failures;
      const notice = {
        kind: "breaker" as const,
        level: "error" as const,
        agentId: e.agent_id,
        key,
        callsSaved: saves ? callsSaved : undefined,
        usdSaved: saves ? usdSaved : undefined,
        failures,
        title: `Circuit breaker open: ${agent}`,
        lines: [
          `Service: ${e.provider ?? provider ? `${e.provider ?? provider} / ` : ""}${e.model}`,
          ...(failures != null ? [`Failures: ${failures}`] : []),
          ...(saves ? [`Calls saved: ${callsSaved}`, `Saved: ${money(usdSaved)}`] : []),
          "Calls to it are refused until it cools down.",
        ],
      };
      if (shown) {
        Object.assign(shown, notice);
        clearTimeout(timers.get(shown.id));
        timers.set(shown.id, setTimeout(() => close(shown.id), DISMISS_MS));
      } else {
        add(notice);
      }
    } else if (e.type === "PII_ALERT") {
      const entities = (e.entities as string[] | undefined) ?? [];
      const request = Number(e.request_findings ?? 0);
      add({
        kind: "pii",
        level: "warn",
        agentId: e.agent_id,
        title: `PII caught: ${agent}`,
        lines: [
          `${e.findings} in replies, ${request} in requests, ${e.calls} call(s)`,
          // the value never leaves the runtime: the preview is what the text became
          `Preview: ${entities.length ? entities.map((x) => `[${x}]`).join(" ") : "[REDACTED]"}`,
        ],
      });
    } else if (e.type === "COST_ALERT") {
      const a = (e.alert ?? {}) as { message?: string; recommended_action?: string; recommended_increase_usd?: number; threshold_pct?: number };
      add({
        kind: "budget",
        level: (a.threshold_pct ?? 0) >= 100 ? "error" : "warn",
        agentId: e.agent_id,
        title: `Budget ${a.threshold_pct ?? ""}%: ${agent}`,
        lines: [a.message ?? "budget threshold reached", `Recommended: ${a.recommended_action ?? "review the budget"}`],
        increaseUsd: a.recommended_increase_usd,
      });
    }
  }

  return { notices, add, close, fromEvent };
});
