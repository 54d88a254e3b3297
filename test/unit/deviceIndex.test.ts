// The devices table's key scheme: encoded values keep order and prefixes, a device's rows
// fit one transaction, and each query shape reads the ranges meant for it.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Device } from "../../shared/domain/device.js";
import {
  classesFor,
  deviceIndexVersion,
  eligibilityClassOf,
  encodeSortValue,
  encodeTag,
  filterFingerprint,
  foldCase,
  indexKeysOf,
  maxIndexedTags,
  maxSortValueLength,
  planFor,
  prefixEnd,
} from "../../shared/adapters/tables/deviceIndex.js";

const device = (overrides: Partial<Device> = {}): Device => ({
  tenantId: "t1",
  id: "d1",
  deviceName: "Diego-Laptop",
  operatingSystem: "Windows",
  osVersion: "10.0.26100.1",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  userId: "u1",
  userPrincipalName: "diego@contoso.example",
  userDisplayName: "Diego Siciliani",
  roleScopeTagIds: ["0"],
  removed: false,
  updatedAt: "2026-11-20T08:00:00.000Z",
  ...overrides,
});

const everywhere = { all: true } as const;
const scoped = (...tags: string[]) => ({ all: false, tags: new Set(tags) }) as const;
const off = { allowPossiblyUnsupportedWindowsEditions: false };
const on = { allowPossiblyUnsupportedWindowsEditions: true };

describe("encodeSortValue", () => {
  it("folds case and escapes everything outside a small ASCII set, separators included", () => {
    expect(encodeSortValue("Diego-Laptop")).toBe("diego-laptop");
    expect(encodeSortValue("a|b!c d")).toBe("a%7Cb%21c%20d");
    expect(encodeSortValue("Zoë")).toBe("zo%C3%AB");
    expect(encodeSortValue(null)).toBe("");
  });

  it("keeps prefixes: the encoding of a prefix is a prefix of the encoding", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 120 }), fc.nat(), (s, n) => {
        const chars = [...s];
        const prefix = chars.slice(0, n % (chars.length + 1)).join("");
        expect(encodeSortValue(s).startsWith(encodeSortValue(prefix))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("never splits an escape when it cuts long values, and stays within the cap", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 50, maxLength: 400 }), (s) => {
        const e = encodeSortValue(s);
        expect(e.length).toBeLessThanOrEqual(maxSortValueLength);
        expect(e).toMatch(/^(?:[a-z0-9._@-]|%[0-9A-F]{2})*$/);
      }),
      { numRuns: 300 },
    );
  });

  it("is ASCII, so every store orders it the same way", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        expect(/^[\x21-\x7e]*$/.test(encodeSortValue(s))).toBe(true);
      }),
    );
  });
});

describe("index rows of a device", () => {
  it("has a name row for every scope segment, UPN and display-name rows tenant-wide, plus platform and eligibility rows", () => {
    // Prepare / Act
    const keys = indexKeysOf(device({ roleScopeTagIds: ["0", "berlin"] }));

    // Assess
    expect(keys.sort()).toEqual(
      [
        "i|*|n|diego-laptop!d1",
        "i|*|u|diego@contoso.example!d1",
        "i|*|d|diego%20siciliani!d1",
        "i|t|0|n|diego-laptop!d1",
        "i|t|berlin|n|diego-laptop!d1",
        "i|*|p|windows|diego-laptop!d1",
        "i|*|e|yes|diego-laptop!d1",
        "i|*|pe|windows|yes|diego-laptop!d1",
      ].sort(),
    );
  });

  it("has no user rows for a device without a primary user", () => {
    const keys = indexKeysOf(device({ userId: null, userPrincipalName: null, userDisplayName: null }));

    expect(keys.filter((k) => /^i\|[^|]+\|[ud]\|/.test(k))).toEqual([]);
  });

  it("fits one transaction with the record even when every row changes (≤ 100 operations)", () => {
    // Prepare: the most rows a device can have, and a rewrite where no key survives
    const tags = Array.from({ length: maxIndexedTags }, (_, i) => `tag${i}`);
    const before = indexKeysOf(device({ roleScopeTagIds: tags }));
    const after = indexKeysOf(device({ deviceName: "renamed", userPrincipalName: "x@y", userDisplayName: "X", roleScopeTagIds: tags.map((t) => `${t}x`) }));

    // Act
    const operations = 1 + after.length + before.filter((k) => !after.includes(k)).length;

    // Assess
    expect(before.length).toBe(20);
    expect(operations).toBeLessThanOrEqual(100);
  });

  it("indexes a device with more scope tags than that under the one 'wide' segment", () => {
    const tags = Array.from({ length: maxIndexedTags + 1 }, (_, i) => `tag${i}`);

    const keys = indexKeysOf(device({ roleScopeTagIds: tags }));

    expect(keys.filter((k) => k.startsWith("i|t|"))).toEqual([]);
    expect(keys.filter((k) => k.startsWith("i|w|"))).toEqual(["i|w|n|diego-laptop!d1"]);
  });

  it("escapes scope tags without folding their case (tags match exactly)", () => {
    expect(encodeTag("Berlin|2")).toBe("Berlin%7C2");
  });
});

describe("eligibility classes", () => {
  it.each([
    ["eligible either way", device(), "yes"],
    ["ineligible either way", device({ managedDeviceOwnerType: "company" }), "no"],
    ["eligible only with the setting on (HoloLens)", device({ deviceType: "holoLens", operatingSystem: "Windows Holographic for Business" }), "ifallowed"],
    ["removed", device({ removed: true, removedAt: "2026-11-21T00:00:00.000Z" }), "no"],
  ])("%s", (_what, d, klass) => {
    expect(eligibilityClassOf(d)).toBe(klass);
  });

  it.each([
    [true, off, ["yes"]],
    [true, on, ["yes", "ifallowed"]],
    [false, off, ["no", "ifallowed"]],
    [false, on, ["no"]],
  ] as const)("eligible=%s with %o reads %o", (eligible, settings, classes) => {
    expect(classesFor(eligible, settings)).toEqual(classes);
  });
});

describe("planFor", () => {
  const families = (p: ReturnType<typeof planFor>) => p.ranges.map((r) => r.from);

  it.each([
    ["no filter", {}, ["i|*|n|"]],
    ["platform", { platform: "iOS" as const }, ["i|*|p|iOS|"]],
    ["eligible", { eligible: true }, ["i|*|e|yes|"]],
    ["platform and eligible", { platform: "windows" as const, eligible: false }, ["i|*|pe|windows|no|", "i|*|pe|windows|ifallowed|"]],
    ["search", { search: "Die" }, ["i|*|n|die", "i|*|u|die", "i|*|d|die"]],
  ])("tenant-wide, %s: one range per index the filter needs", (_what, filter, expected) => {
    expect(families(planFor({ scope: everywhere, settings: off, ...filter }))).toEqual(expected);
  });

  it("scoped: one range per scope tag plus the wide range, merged", () => {
    expect(families(planFor({ scope: scoped("berlin", "0"), settings: off }))).toEqual(["i|t|0|n|", "i|t|berlin|n|", "i|w|n|"]);
  });

  it("scoped search: the scope's name ranges and the tenant-wide user ranges, keeping only devices in scope", () => {
    // Prepare
    const plan = planFor({ scope: scoped("berlin"), settings: off, search: "Diego" });
    const inScope = device({ roleScopeTagIds: ["berlin"] });
    const outOfScope = device({ id: "d2", roleScopeTagIds: ["paris"] });

    // Act / Assess
    expect(families(plan)).toEqual(["i|t|berlin|n|diego", "i|w|n|diego", "i|*|u|diego", "i|*|d|diego"]);
    // (The display name sorts first of the three matching values, so that is the row kept.)
    expect(plan.accept(inScope, "d")).toBe(true);
    expect(plan.accept(outOfScope, "d")).toBe(false);
  });

  it("ranges end just past their prefix", () => {
    expect(prefixEnd("i|*|n|")).toBe("i|*|n}");
    expect(planFor({ scope: everywhere, settings: off, search: "ab" }).ranges[0]).toMatchObject({ from: "i|*|n|ab", to: "i|*|n|ac" });
  });

  it("search keeps one row per device: the one whose matching value sorts first", () => {
    // Prepare: name, UPN and display name all start with "diego"; "diego siciliani" sorts
    // first (an escaped space, %20, sorts below "-" and "@")
    const plan = planFor({ scope: everywhere, settings: off, search: "DIEGO" });
    const d = device();

    // Act / Assess
    expect(plan.accept(d, "d")).toBe(true);
    expect(plan.accept(d, "n")).toBe(false);
    expect(plan.accept(d, "u")).toBe(false);
    expect(planFor({ scope: everywhere, settings: off, search: "diego-" }).accept(d, "n")).toBe(true);
  });

  it("checks every filter and the scope on the copy it reads", () => {
    const d = device({ roleScopeTagIds: ["paris"] });

    expect(planFor({ scope: scoped("berlin"), settings: off }).accept(d, "n")).toBe(false);
    expect(planFor({ scope: everywhere, settings: off, platform: "iOS" }).accept(d, "n")).toBe(false);
    expect(planFor({ scope: everywhere, settings: off, eligible: false }).accept(d, "n")).toBe(false);
    expect(planFor({ scope: everywhere, settings: off, search: "zz" }).accept(d, "n")).toBe(false);
    expect(planFor({ scope: everywhere, settings: off, search: "diego-l", eligible: true, platform: "windows" }).accept(d, "n")).toBe(true);
  });
});

describe("filterFingerprint", () => {
  it("is the same for the same query, whatever the search's case", () => {
    expect(filterFingerprint({ search: "Diego" })).toBe(filterFingerprint({ search: "dIEGO" }));
    expect(filterFingerprint({ search: "Diego" })).not.toBe(filterFingerprint({ search: "Diego", eligible: true }));
  });

  it("folds case one character at a time", () => {
    expect(foldCase("ΟΔΥΣ")).toBe("οδυσ");
  });
});

describe("the index version", () => {
  // The rows of a spread of sample devices, pinned to deviceIndexVersion. A change to the key
  // scheme, the eligibility classes or the platform mapping changes them: bump
  // deviceIndexVersion in that change (so the re-index job rewrites stored devices), then
  // put the new version and digest here.
  const pinned = { version: 4, digest: "6bb044a0a0766097" };
  const samples: Device[] = [
    device(),
    device({ id: "d2", operatingSystem: "Android", deviceEnrollmentType: "androidEnterpriseFullyManaged", roleScopeTagIds: ["0", "berlin"] }),
    device({ id: "d3", operatingSystem: "Android", deviceEnrollmentType: "androidEnterpriseWorkProfile" }),
    device({ id: "d4", operatingSystem: "iOS", deviceEnrollmentType: "appleUserEnrollment", managedDeviceOwnerType: "company" }),
    device({ id: "d5", operatingSystem: "iPadOS", deviceEnrollmentType: "userEnrollment" }),
    device({ id: "d6", operatingSystem: "macOS", deviceEnrollmentType: "appleBulkWithUser" }),
    device({ id: "d7", operatingSystem: "Windows", osVersion: "10.0.26100.1 (Home)", deviceName: "ÄÖ Ü!|x" }),
    device({
      id: "d8",
      operatingSystem: "Linux",
      deviceEnrollmentType: "unknown",
      managedDeviceOwnerType: "unknown",
      userId: null,
      userPrincipalName: null,
      userDisplayName: null,
    }),
    device({ id: "d9", removed: true }),
    device({ id: "d10", roleScopeTagIds: Array.from({ length: maxIndexedTags + 1 }, (_, i) => `tag${i}`) }),
    device({ id: "d11", roleScopeTagIds: ["É".repeat(64), "0"] }),
  ];

  it("is bumped whenever the rows it derives change", () => {
    const rows = samples.map((d) => [d.id, eligibilityClassOf(d), ...indexKeysOf(d)]);
    const digest = createHash("sha256").update(JSON.stringify(rows)).digest("hex").slice(0, 16);
    expect({ version: deviceIndexVersion, digest }, "the index rows changed: bump deviceIndexVersion and re-pin").toEqual(pinned);
  });
});
