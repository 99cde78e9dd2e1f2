import { describe, expect, it } from "vitest";
import { describeActions, describeNames, namesText, parseNames, toActions, toRows } from "./policies";

describe("model lists", () => {
  it("reads commas, spaces and lines, lower case, each name once", () => {
    expect(parseNames(" GPT-4o, gpt-4o-mini\nclaude-3-5-haiku  gpt-4o ")).toEqual(["gpt-4o", "gpt-4o-mini", "claude-3-5-haiku"]);
  });
  it("reads nothing typed as any (null)", () => {
    expect(parseNames("")).toBeNull();
    expect(parseNames(" , \n")).toBeNull();
  });
  it("writes and describes a stored list", () => {
    expect(namesText(["openai", "anthropic"])).toBe("openai, anthropic");
    expect(namesText(null)).toBe("");
    expect(describeNames(null)).toBe("any");
    expect(describeNames([])).toBe("none");
    expect(describeNames(["gpt-4o"])).toBe("gpt-4o");
  });
});

describe("PII actions", () => {
  it("lists entities by name with default last", () => {
    expect(toRows({ default: "redact", SSN: "block", EMAIL: "warn" })).toEqual([
      { entity: "EMAIL", action: "warn" },
      { entity: "SSN", action: "block" },
      { entity: "default", action: "redact" },
    ]);
    expect(toRows(null)).toEqual([]);
  });
  it("sends entity names upper case and no rows as null", () => {
    expect(toActions([{ entity: " email ", action: "block" }, { entity: "Default", action: "warn" }])).toEqual({
      actions: { EMAIL: "block", default: "warn" },
    });
    expect(toActions([])).toEqual({ actions: null });
  });
  it("refuses names the API would refuse, and an entity twice", () => {
    expect(toActions([{ entity: "e-mail", action: "block" }])).toHaveProperty("error");
    expect(toActions([{ entity: "", action: "block" }])).toHaveProperty("error");
    const twice = toActions([
      { entity: "EMAIL", action: "block" },
      { entity: "email", action: "warn" },
    ]);
    expect(twice).toEqual({ error: "EMAIL is listed twice." });
  });
  it("describes a policy in words", () => {
    expect(describeActions({ default: "redact", EMAIL: "block" })).toBe("EMAIL: block, default: redact");
    expect(describeActions(null)).toBe("none");
  });
});
