// A pool's bars: spent and allocated as shares of its limit, clamped to the bar's width, and
// who the pool belongs to in words.

export interface Pool {
  id: number;
  user_id: number | null;
  team_id: number | null;
  limit_usd: number;
  allocated_usd: number;
  unallocated_usd: number;
  spent_usd: number;
}

/** `part` of `whole` in percent for a bar: 0–100, and 0 for an empty or zero pool. */
export function share(part: number, whole: number): number {
  if (!(whole > 0) || !(part > 0)) return 0;
  return Math.min(100, (part / whole) * 100);
}

/** "team ops" or "user dev@example.com"; the ids when the names are not known to the caller. */
export function poolOwner(p: Pool, teams: Record<number, string>, users: Record<number, string>): string {
  if (p.team_id != null) return `team ${teams[p.team_id] ?? `#${p.team_id}`}`;
  if (p.user_id != null) return `user ${users[p.user_id] ?? `#${p.user_id}`}`;
  return `pool #${p.id}`;
}
