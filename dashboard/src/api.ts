// A typed fetch of the Control Panel API (same origin), holding the session's tokens.

export type Role = "admin" | "developer" | "viewer" | "super_user";
export interface User {
  id: number;
  email: string;
  name: string;
  role: Role;
  status?: string;
  created_at?: string;
  last_login_at?: string | null;
}
export interface Budget {
  agent_id: number;
  limit_usd: number;
  spent_usd: number;
  leased_usd: number;
  available_usd: number;
}
export interface Agent {
  id: number;
  name: string;
  owner_id: number;
  project: string;
  provider: string;
  status: string;
  stop_requested: boolean;
  budget: Budget;
}
export interface Totals {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  pii_findings: number;
}
export interface Trace {
  id: number;
  request_id: string;
  lease_id: string;
  agent_id: number;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  latency_ms: number;
  pii_findings: number;
  breaker_state: string;
  status: string;
  /** Refused and failed calls: why, how many identical ones, what an open breaker saved. */
  reason?: string;
  count?: number;
  saved_usd?: number;
  occurred_at: string;
  received_at: string;
}
export interface PiiFinding {
  id: number;
  agent_id: number;
  request_id: string;
  entity: string;
  severity: string;
  start: number;
  end: number;
  direction: "reply" | "request";
  action: string | null;
  received_at: string;
}
export interface TraceDetail extends Trace {
  agent_name: string;
  pii: PiiFinding[];
}
export interface Alert {
  id: number;
  agent_id: number;
  kind: string;
  threshold_pct: number;
  message: string;
  recommended_action: string;
  created_at: string;
}
export interface UnauthorizedAction {
  id: number;
  kind: string;
  agent_id: number | null;
  user_id: number | null;
  role: string;
  detail: string;
  at: string;
}
export interface ProcessInfo {
  state: string;
  pid: number | null;
  restarts: number;
  reason: string;
  updated_at: string;
  stop: boolean;
}
export interface WorkMetrics {
  unit: string;
  done: number;
  total: number | null;
  successes: number;
  failures: number;
  success_rate: number | null;
  throughput_per_hour: number;
  latency_s: { p50: number; p95: number; p99: number } | null;
  cost_per_unit_usd: string | number | null;
  spent_usd: string | number;
  budget_usd: string | number | null;
  elapsed_s: number;
  progress: string;
  throughput: string;
  updated_at: string;
}
export interface CallMetrics {
  requests: number;
  succeeded: number;
  success_rate: number | null;
  input_tokens: number;
  cached_tokens: number;
  cache_hit_rate: number | null;
  cost_usd: number;
  latency: { p50_ms: number; p95_ms: number; p99_ms: number } | null;
  first_call_at: string | null;
  last_call_at: string | null;
  calls_per_hour: number | null;
  uptime_s: number | null;
}
export interface AgentMetrics {
  agent_id: number;
  process: ProcessInfo | null;
  metrics: WorkMetrics | null;
  calls: CallMetrics | null;
}
export interface Secret {
  id: number;
  name: string;
  environment: string;
  version: number;
  masked: string;
  description: string;
  created_at: string;
  updated_at: string;
  agent_ids: number[];
  projects: string[];
  value?: string | null;
}
export interface Token {
  id: number;
  agent_id: number;
  agent_name: string;
  name: string;
  environment: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked: boolean;
}
export interface TokenCreated {
  token: string;
  info: Omit<Token, "agent_name">;
}
export interface ProviderKey {
  id: number;
  provider: string;
  label: string;
  base_url: string;
  masked: string;
  created_at: string;
}
export interface BudgetRequest {
  id: number;
  agent_id: number;
  requested_by: number;
  amount_usd: number;
  reason: string;
  status: string;
  created_at: string;
}
export interface UsagePoint extends Totals {
  bucket: string;
}
export interface UsageGroup extends Totals {
  key: string;
}
export type { LiveEvent } from "./lib/events";

interface Session {
  access: string;
  refresh: string;
  user: User;
}

const KEY = "iron-cage-session";
let session: Session | null = JSON.parse(sessionStorage.getItem(KEY) ?? "null");

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function save(s: Session | null): void {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

export function currentUser(): User | null {
  return session?.user ?? null;
}

export function accessToken(): string | null {
  return session?.access ?? null;
}

async function problem(r: Response): Promise<ApiError> {
  let message = `${r.status} ${r.statusText}`;
  try {
    const body = await r.json();
    message = body?.error?.message ?? body?.detail ?? message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(r.status, message);
}

export async function login(email: string, password: string): Promise<User> {
  const r = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!r.ok) throw await problem(r);
  const pair = await r.json();
  save({ access: pair.access_token, refresh: pair.refresh_token, user: pair.user });
  return pair.user;
}

export function logout(): void {
  const s = session;
  save(null);
  if (s) {
    void fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${s.access}` },
      body: JSON.stringify({ refresh_token: s.refresh }),
    });
  }
}

/** Trades the refresh token for a new pair; false (and the session ends) when it is refused. */
export async function refresh(): Promise<boolean> {
  if (!session) return false;
  const r = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh }),
  });
  if (!r.ok) {
    save(null);
    return false;
  }
  const pair = await r.json();
  save({ access: pair.access_token, refresh: pair.refresh_token, user: pair.user });
  return true;
}

/** A JSON request with the session's access token, refreshed once on a 401. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const send = () =>
    fetch(`/api/v1${path}`, {
      ...init,
      headers: {
        "content-type": "application/json",
        ...(session ? { authorization: `Bearer ${session.access}` } : {}),
        ...(init.headers ?? {}),
      },
    });
  let r = await send();
  if (r.status === 401 && (await refresh())) r = await send();
  if (!r.ok) throw await problem(r);
  return (r.status === 204 ? undefined : await r.json()) as T;
}
