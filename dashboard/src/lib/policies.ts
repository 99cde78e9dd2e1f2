// Model and PII policies as the Control Panel stores them, and as the Policies page edits them:
// name lists (null: any) from and to a text field, and per-entity actions from and to rows.

export interface ModelPolicy {
  allowed_models: string[] | null;
  allowed_providers: string[] | null;
}
export type PiiActions = Record<string, string>;
export interface PiiPolicy {
  egress: PiiActions | null;
  ingress: PiiActions | null;
}
/** An agent's own policy, its developer's, and what its runtime receives. */
export interface Layered<T> {
  agent_id: number;
  agent: T;
  developer: T;
  effective: T;
}
export interface PiiRow {
  entity: string;
  action: string;
}

/** What a request may do with an entity it sends (least to most strict), and a reply. */
export const EGRESS_ACTIONS = ["allow", "warn", "pseudonymize", "redact", "block"] as const;
export const INGRESS_ACTIONS = ["allow", "warn", "redact", "block"] as const;
/** Entity names the runtime's scanners report, offered as suggestions (any name is accepted). */
export const KNOWN_ENTITIES = ["EMAIL", "PHONE", "SSN", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "API_KEY", "JWT"];

const ENTITY = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

/** A list typed as `gpt-4o, gpt-4o-mini` (commas, spaces or lines): lower case, each once;
 * nothing typed is null, which the Control Panel reads as "any". */
export function parseNames(text: string): string[] | null {
  const names = text
    .split(/[\s,]+/)
    .map((n) => n.trim().toLowerCase())
    .filter(Boolean);
  return names.length ? [...new Set(names)] : null;
}

/** The text field's value for a stored list. */
export function namesText(names: string[] | null | undefined): string {
  return names?.join(", ") ?? "";
}

/** A list in words: "any" for null, "none" for an empty list. */
export function describeNames(names: string[] | null | undefined): string {
  if (names == null) return "any";
  return names.length ? names.join(", ") : "none";
}

/** Stored actions as rows, by entity name with `default` last. */
export function toRows(actions: PiiActions | null | undefined): PiiRow[] {
  return Object.entries(actions ?? {})
    .map(([entity, action]) => ({ entity, action }))
    .sort((a, b) => (a.entity === "default" ? 1 : b.entity === "default" ? -1 : a.entity.localeCompare(b.entity)));
}

/** Rows as the API takes them (entities upper case, `default` as is; no rows: null), or the
 * reason they cannot be saved. */
export function toActions(rows: PiiRow[]): { actions: PiiActions | null } | { error: string } {
  const actions: PiiActions = {};
  for (const { entity, action } of rows) {
    const name = entity.trim().toLowerCase() === "default" ? "default" : entity.trim().toUpperCase();
    if (!ENTITY.test(name)) return { error: `"${entity}" is not an entity name (letters, digits and _, from a letter).` };
    if (name in actions) return { error: `${name} is listed twice.` };
    actions[name] = action;
  }
  return { actions: Object.keys(actions).length ? actions : null };
}

/** Actions in words: `EMAIL: block, default: redact`, or "none". */
export function describeActions(actions: PiiActions | null | undefined): string {
  const rows = toRows(actions);
  return rows.length ? rows.map((r) => `${r.entity}: ${r.action}`).join(", ") : "none";
}
