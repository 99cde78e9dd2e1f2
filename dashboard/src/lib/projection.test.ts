import { describe, expect, it } from "vitest";
import { perUnit, project } from "./projection";

describe("project", () => {
  it("scales the spend by the work left", () => {
    const p = project(5.29, 50, 23, 100);
    expect(p?.finalUsd).toBeCloseTo(23.0, 2);
    expect(p?.status).toBe("under");
  });
  it("says approaching past 80% of the budget and over past it", () => {
    expect(project(9, 50, 20, 100)?.status).toBe("approaching"); // $45 of $50
    expect(project(12, 50, 20, 100)?.status).toBe("over"); // $60
  });
  it("is the spend itself once the work is done", () => {
    expect(project(30, 50, 100, 100)?.finalUsd).toBe(30);
  });
  it("is null without progress, a total or a budget", () => {
    expect(project(1, 50, 0, 100)).toBeNull();
    expect(project(1, 50, 3, null)).toBeNull();
    expect(project(1, 0, 3, 10)).toBeNull();
  });
});

describe("perUnit", () => {
  it("divides the spend by the units done", () => {
    expect(perUnit(5.29, 23)).toBeCloseTo(0.23, 2);
    expect(perUnit(1, 0)).toBeNull();
  });
});
