import { describe, expect, it } from "vitest";
import { poolOwner, share, type Pool } from "./pools";

const pool = (o: Partial<Pool>): Pool => ({ id: 3, user_id: null, team_id: null, limit_usd: 100, allocated_usd: 0, unallocated_usd: 100, spent_usd: 0, ...o });

describe("share", () => {
  it("is the percentage of the limit", () => {
    expect(share(25, 100)).toBe(25);
    expect(share(1, 3)).toBeCloseTo(33.333, 2);
  });
  it("clamps an overspent pool to the full bar", () => {
    expect(share(150, 100)).toBe(100);
  });
  it("is empty for a zero or missing limit and for nothing spent", () => {
    expect(share(5, 0)).toBe(0);
    expect(share(0, 100)).toBe(0);
    expect(share(Number.NaN, 100)).toBe(0);
  });
});

describe("poolOwner", () => {
  it("names the team or the user, else falls back to ids", () => {
    expect(poolOwner(pool({ team_id: 2 }), { 2: "ops" }, {})).toBe("team ops");
    expect(poolOwner(pool({ team_id: 9 }), {}, {})).toBe("team #9");
    expect(poolOwner(pool({ user_id: 4 }), {}, { 4: "dev@example.com" })).toBe("user dev@example.com");
    expect(poolOwner(pool({}), {}, {})).toBe("pool #3");
  });
});
