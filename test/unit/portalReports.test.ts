// The portal's Reports page (portal/src/pages/reports.ts): every session status the API
// counts is drawn in a colour of its own.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ApiClient } from "../../portal/src/api.js";
import { reportsPage } from "../../portal/src/pages/reports.js";
import { sessionStatuses } from "../../portal/src/types.js";
import { byId, installFakeDom, pageContext } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());

describe("portal reports page", () => {
  it("gives every status its own colour in the totals by status", async () => {
    // Arrange: one session in each status the API counts.
    const byStatus = Object.fromEntries(sessionStatuses.map((st) => [st, 1]));
    const report = {
      from: "2026-11-08T00:00:00.000Z",
      to: "2026-12-07T00:00:00.000Z",
      total: sessionStatuses.length,
      byStatus,
      byPlatform: {},
      byRequester: [],
      accepted: 0,
      medianTimeToAcceptSeconds: null,
      connectedSessions: 0,
      totalConnectionMinutes: 0,
      medianConnectionMinutes: null,
      sessionsNeverConnected: 0,
    };
    const get = vi.fn(async (path: string) => (path === "/reports/sessions" ? report : { value: [] }));
    const ctx = pageContext({ api: { get } as unknown as ApiClient });

    // Act
    await reportsPage(ctx);

    // Assess
    const bars = byId(ctx.root, "report-by-status")!
      .descendants()
      .filter((e) => e.tagName === "RECT");
    expect(bars).toHaveLength(sessionStatuses.length);
    const fills = bars.map((b) => b.getAttribute("fill"));
    expect(fills.every((f) => f !== null)).toBe(true);
    expect(new Set(fills).size).toBe(sessionStatuses.length);
  });

  it("reads a bounded number of session pages for the timeline, even when every page is empty", async () => {
    // Arrange: a scoped reader in a large tenant: each page ends early, empty, with a token (as the paging rule allows).
    const report = {
      from: "2026-11-08T00:00:00.000Z",
      to: "2026-12-07T00:00:00.000Z",
      total: 0,
      byStatus: {},
      byPlatform: {},
      byRequester: [],
      accepted: 0,
      medianTimeToAcceptSeconds: null,
      connectedSessions: 0,
      totalConnectionMinutes: 0,
      medianConnectionMinutes: null,
      sessionsNeverConnected: 0,
    };
    let pages = 0;
    const get = vi.fn(async (path: string) => {
      if (path === "/reports/sessions") return report;
      pages++;
      return pages < 10_000 ? { value: [], continuationToken: `t${pages}` } : { value: [] };
    });
    const ctx = pageContext({ api: { get } as unknown as ApiClient });

    // Act
    await reportsPage(ctx);

    // Assess: a few dozen requests at most, not the tenant's whole history, and the page says the timeline is partial.
    expect(pages).toBeLessThanOrEqual(50);
    expect(byId(ctx.root, "timeline-partial")).toBeDefined();
  });
});
