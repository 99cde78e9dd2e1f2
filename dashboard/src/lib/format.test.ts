import { describe, expect, it } from "vitest";
import { clock, count, duration, exactMoney, latency, money, pct, rate } from "./format";

describe("money", () => {
  it("keeps cents and separators from a cent up", () => {
    expect(money(5.29)).toBe("$5.29");
    expect(money(50)).toBe("$50.00");
    expect(money(1234567.891)).toBe("$1,234,567.89");
    expect(money(0.01)).toBe("$0.01");
  });
  it("shows significant digits below a cent, never $0.0000", () => {
    expect(money(0.000423)).toBe("$0.000423");
    expect(money(0.0042)).toBe("$0.0042");
    expect(money(0.000001)).toBe("$0.000001");
    expect(money(0)).toBe("$0.00");
  });
  it("signs negatives and dashes non-numbers", () => {
    expect(money(-2.5)).toBe("-$2.50");
    expect(money(Number.NaN)).toBe("–");
  });
});

describe("exactMoney", () => {
  it("keeps every digit down to the micro-dollar", () => {
    expect(exactMoney(0.012345)).toBe("$0.012345");
    expect(exactMoney(0.000042)).toBe("$0.000042");
    expect(exactMoney(1234.000001)).toBe("$1,234.000001");
  });
  it("shows at least cents and drops what is below a micro-dollar", () => {
    expect(exactMoney(1.5)).toBe("$1.50");
    expect(exactMoney(0)).toBe("$0.00");
    expect(exactMoney(0.1 + 0.2)).toBe("$0.30");
    expect(exactMoney(0.0000004)).toBe("$0.00");
  });
  it("signs negatives and dashes non-numbers", () => {
    expect(exactMoney(-0.25)).toBe("-$0.25");
    expect(exactMoney(Number.POSITIVE_INFINITY)).toBe("–");
  });
});

describe("counts, percentages, rates", () => {
  it("groups thousands", () => expect(count(1234567)).toBe("1,234,567"));
  it("shows the spent percentage with one decimal, capped", () => {
    expect(pct(5.29, 50)).toBe("10.6%");
    expect(pct(80, 50)).toBe("100.0%");
    expect(pct(1, 0)).toBe("0.0%");
  });
  it("rounds rates to whole percents", () => {
    expect(rate(0.34)).toBe("34%");
    expect(rate(null)).toBe("–");
  });
});

describe("times", () => {
  it("prints the log clock as [HH:MM:SS]", () => {
    const at = new Date(2026, 0, 2, 14, 3, 5).toISOString();
    expect(clock(at)).toBe("[14:03:05]");
  });
  it("prints latencies and durations", () => {
    expect(latency(850)).toBe("850 ms");
    expect(latency(2100)).toBe("2.1s");
    expect(duration(3900)).toBe("1h 05m");
    expect(duration(250)).toBe("4m 10s");
    expect(duration(12)).toBe("12s");
  });
});
