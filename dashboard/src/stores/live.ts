// The dashboard's live state: one WebSocket (/ws) for the whole session, the agents and their
// metrics it keeps current, and the event history (loaded from the server on open, then fed
// by the socket), which outlives page switches.
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { accessToken, api, currentUser, refresh, type Agent, type AgentMetrics, type Alert, type Budget, type Trace, type UnauthorizedAction } from "../api";
import { logged, sameLine, severity, type LiveEvent, type Severity } from "../lib/events";
import { useNotifications } from "./notifications";

export interface LogEntry {
  seq: number;
  event: LiveEvent;
  severity: Severity;
  /** from the history loaded on open, not from /ws */
  past: boolean;
  /** the same line again and again in a row (a runtime's lease refreshes): shown once, ×n */
  repeats: number;
}

const KEEP = 500;

export const useLive = defineStore("live", () => {
  const agents = ref<Agent[]>([]);
  const metrics = ref<Record<number, AgentMetrics>>({});
  const log = ref<LogEntry[]>([]);
  const connected = ref(false);
  const error = ref("");
  /** bumped on events that change what panels read from the server (calls, PII, secrets) */
  const ticks = ref({ calls: 0, pii: 0, alerts: 0 });
  let seq = 0;
  let socket: WebSocket | null = null;
  let started = false;
  let delay = 500;
  let poll: ReturnType<typeof setInterval> | null = null;
  const pending = new Map<number, ReturnType<typeof setTimeout>>();

  const byId = computed(() => new Map(agents.value.map((a) => [a.id, a])));
  function agentName(id: number | null): string {
    if (id == null) return "server";
    return byId.value.get(id)?.name ?? `agent ${id}`;
  }

  function push(e: LiveEvent, past = false): void {
    if (!logged(e)) return;
    const top = log.value[0];
    if (top && !past && !top.past && sameLine(top.event, e)) {
      top.repeats++;
      top.event = e;
      return;
    }
    log.value.unshift({ seq: ++seq, event: e, severity: severity(e), past, repeats: 1 });
    if (log.value.length > KEEP) log.value.length = KEEP;
  }

  async function loadAgents(): Promise<void> {
    try {
      agents.value = await api<Agent[]>("/agents");
      error.value = "";
      await Promise.all(agents.value.map((a) => loadMetrics(a.id)));
    } catch (e) {
      error.value = (e as Error).message;
    }
  }

  async function loadMetrics(id: number): Promise<void> {
    try {
      metrics.value[id] = await api<AgentMetrics>(`/agents/${id}/metrics`);
    } catch {
      // a metrics read failing leaves the last one shown
    }
  }

  function metricsSoon(id: number | null): void {
    if (id == null || pending.has(id)) return;
    pending.set(
      id,
      setTimeout(() => {
        pending.delete(id);
        void loadMetrics(id);
      }, 150),
    );
  }

  /** What happened before the page opened: recent calls, budget alerts, unauthorized actions. */
  async function loadHistory(): Promise<void> {
    const role = currentUser()?.role;
    const [traces, alerts, denied] = await Promise.all([
      api<Trace[]>("/traces?limit=100").catch(() => [] as Trace[]),
      api<Alert[]>("/alerts").catch(() => [] as Alert[]),
      role === "admin" || role === "developer"
        ? api<UnauthorizedAction[]>("/unauthorized-actions").catch(() => [] as UnauthorizedAction[])
        : Promise.resolve([] as UnauthorizedAction[]),
    ]);
    const past: LiveEvent[] = [
      ...traces.map((t) => ({ ...t, type: "CALL", agent_id: t.agent_id, at: t.received_at, trace_id: t.id })),
      ...alerts.map((a) => ({ type: "COST_ALERT", agent_id: a.agent_id, at: a.created_at, alert: a })),
      ...denied.map((u) => ({ ...u, type: "UNAUTHORIZED", agent_id: u.agent_id, at: u.at })),
    ];
    past.sort((a, b) => a.at.localeCompare(b.at));
    for (const e of past) push(e, true);
  }

  function onEvent(e: LiveEvent): void {
    if (e.type === "HEARTBEAT") return;
    if (e.type === "STATE_UPDATE") {
      const a = byId.value.get(e.agent_id ?? -1);
      if (a) {
        a.budget = e.budget as Budget;
        a.status = String(e.status ?? a.status);
      } else void loadAgents();
      return;
    }
    push(e);
    if (e.type === "AGENT_EVENT") {
      metricsSoon(e.agent_id);
      if (e.event === "usage") ticks.value.calls++;
    }
    if (e.type === "PII_ALERT") ticks.value.pii++;
    if (e.type === "COST_ALERT") ticks.value.alerts++;
    useNotifications().fromEvent(e, agentName(e.agent_id), byId.value.get(e.agent_id ?? -1)?.provider);
  }

  function open(): void {
    const token = accessToken();
    if (!started || !token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
    socket = ws;
    ws.onopen = () => {
      connected.value = true;
      delay = 500;
    };
    ws.onmessage = (m) => onEvent(JSON.parse(m.data) as LiveEvent);
    ws.onclose = (e) => {
      if (socket !== ws) return;
      connected.value = false;
      socket = null;
      if (!started) return;
      if (e.code === 4403) {
        // this account gets no live events (its role): say so, and do not dial again
        error.value = `live events: ${e.reason || "not for this account"}`;
        return;
      }
      if (e.code === 4401) {
        // the access token expired (or the account changed): a new session, then a new socket
        void refresh().then((ok) => {
          if (ok) setTimeout(open, 0);
        });
        return;
      }
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  }

  /** Once per session, whatever page is shown first; later calls do nothing. */
  async function start(): Promise<void> {
    if (started) return;
    started = true;
    // Super users read their own budgets and usage only: no agents list, no live events.
    if (currentUser()?.role === "super_user") return;
    open();
    await loadAgents();
    await loadHistory();
    // Throughput, uptime and rates move without events: read them again every 5 s.
    poll = setInterval(() => agents.value.forEach((a) => void loadMetrics(a.id)), 5000);
  }

  function stop(): void {
    started = false;
    if (poll) clearInterval(poll);
    poll = null;
    const ws = socket;
    socket = null;
    ws?.close();
    connected.value = false;
    agents.value = [];
    metrics.value = {};
    log.value = [];
  }

  async function setStopped(a: Agent, halt: boolean): Promise<void> {
    const updated = await api<Agent>(`/agents/${a.id}/${halt ? "stop" : "resume"}`, { method: "POST" });
    Object.assign(a, updated);
    metricsSoon(a.id);
  }

  return { agents, metrics, log, connected, error, ticks, agentName, start, stop, loadAgents, setStopped };
});
