// Formatting of money, counts, percentages and times for every panel.

const grouped = new Intl.NumberFormat("en-US");

/** Dollars: cents with thousands separators from a cent up; below a cent, three significant
 * digits (`$0.000423`), never `$0.0000`. */
export function money(usd: number): string {
  if (!Number.isFinite(usd)) return "–";
  const sign = usd < 0 ? "-" : "";
  const x = Math.abs(usd);
  if (x === 0) return "$0.00";
  if (x < 0.01) {
    const digits = Math.min(8, Math.max(2, -Math.floor(Math.log10(x)) + 2));
    return `${sign}$${x.toFixed(digits).replace(/0+$/, "")}`;
  }
  return `${sign}$${x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** A count with thousands separators: `12,345`. */
export function count(n: number): string {
  return Number.isFinite(n) ? grouped.format(Math.round(n)) : "–";
}

/** `part` of `whole` as a percentage with one decimal (`10.6%`), capped at 100. */
export function pct(part: number, whole: number): string {
  return whole > 0 ? `${Math.min(100, (100 * part) / whole).toFixed(1)}%` : "0.0%";
}

/** A ratio in 0..1 as a whole percentage (`34%`), or a dash. */
export function rate(r: number | null | undefined): string {
  return r == null || !Number.isFinite(r) ? "–" : `${Math.round(r * 100)}%`;
}

/** Milliseconds as `850 ms` or `2.1s`. */
export function latency(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** Seconds as `3h 05m`, `4m 10s` or `12s`. */
export function duration(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return "–";
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(t % 60).padStart(2, "0")}s`;
  return `${t}s`;
}

/** The event log's clock: `[14:23:45]` in local time (24 h). */
export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return `[${iso}]`;
  const two = (n: number) => String(n).padStart(2, "0");
  return `[${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}]`;
}

/** A date and time for tables: `2026-12-07 14:23:45` (local). */
export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clock(iso).slice(1, -1)}`;
}

/** A call's cost as recorded (micro-dollars): every significant digit down to the micro-dollar,
 * at least cents (`$0.012345`, `$1.50`, `$1,234.000001`), so one call's cost never rounds away. */
export function exactMoney(usd: number): string {
  if (!Number.isFinite(usd)) return "–";
  const sign = usd < 0 ? "-" : "";
  const micros = Math.round(Math.abs(usd) * 1e6);
  const whole = Math.floor(micros / 1e6);
  const fraction = String(micros % 1e6).padStart(6, "0").replace(/0+$/, "").padEnd(2, "0");
  return `${sign}$${grouped.format(whole)}.${fraction}`;
}
