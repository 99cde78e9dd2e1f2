// The cost panel's projection: what the run will have spent once its work is done.

export type ProjectionStatus = "under" | "approaching" | "over";

export interface Projection {
  /** projected spend when the work completes, USD */
  finalUsd: number;
  /** the projection as a share of the budget (0..n) */
  share: number;
  status: ProjectionStatus;
}

/** The share of the budget above which a projection is "approaching the limit". */
export const APPROACHING = 0.8;

/**
 * Spend so far scaled by the work left: `spent / done × total`. Null until there is
 * something to scale (no unit done yet, no total known, or no budget).
 */
export function project(spentUsd: number, budgetUsd: number, done: number, total: number | null): Projection | null {
  if (!(budgetUsd > 0) || total == null || !(total > 0) || !(done > 0)) return null;
  const finalUsd = done >= total ? spentUsd : (spentUsd / done) * total;
  const share = finalUsd / budgetUsd;
  const status: ProjectionStatus = share > 1 ? "over" : share > APPROACHING ? "approaching" : "under";
  return { finalUsd, share, status };
}

export const STATUS_LABEL: Record<ProjectionStatus, string> = {
  under: "✅ under budget",
  approaching: "⚠️ approaching limit",
  over: "🔴 over budget",
};

/** Cost per unit of work (`$0.23 avg/lead`), or null before the first unit. */
export function perUnit(spentUsd: number, done: number): number | null {
  return done > 0 ? spentUsd / done : null;
}
