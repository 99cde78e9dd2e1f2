export function money(usd: number): string {
  const digits = Math.abs(usd) < 1 && usd !== 0 ? 4 : 2;
  return `$${usd.toFixed(digits)}`;
}

export function pct(part: number, whole: number): string {
  return whole > 0 ? `${Math.min(100, (100 * part) / whole).toFixed(1)}%` : "0%";
}

export function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}
