// The portal's Reports page (portal/src/pages/reports.ts): every session status the API
// counts is drawn in a colour of its own.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiProblem, type ApiClient } from "../../portal/src/api.js";
import type { PageContext } from "../../portal/src/context.js";
import { reportsPage } from "../../portal/src/pages/reports.js";
import { sessionStatuses } from "../../portal/src/types.js";
import { byId, installFakeDom, pageContext, textOf } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());

/** An API whose first report request is refused with 429 (two reports of the tenant running), the next answered. */
function busyOnce(): { get: ReturnType<typeof vi.fn>; reportRequests: () => number } {
  const report = {
    from: "2026-11-08T00:00:00.000Z",
    to: "2026-12-07T00:00:00.000Z",
    total: 3,
    byStatus: { closed: 3 },
    byPlatform: {},
    byRequester: [],
    accepted: 0,
    medianTimeToAcceptSeconds: null,
  };
  let reports = 0;
  const get = vi.fn(async (path: string) => {
    if (path !== "/reports/sessions") return { value: [] };
    reports++;
    if (reports === 1) {
      throw new ApiProblem({
        title: "Too many requests",
        status: 429,
        code: "rateLimited",
        detail: "2 session reports of your tenant are being computed right now. Try again in 5 s.",
        retryAfterSeconds: 5,
      } as never);
    }
    return report;
  });
  return { get, reportRequests: () => reports };
}

/** A page context whose leave hooks the test runs (the page's retry timer must not outlive the test). */
function leavable(get: ReturnType<typeof vi.fn>): { ctx: PageContext; leave: () => void } {
  const hooks: (() => void)[] = [];
  const ctx = { ...pageContext({ api: { get } as unknown as ApiClient }), onLeave: (f: () => void) => void hooks.push(f) };
  return { ctx, leave: () => hooks.forEach((f) => f()) };
}

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

  it("says reports are busy and offers to try again when the API answers 429, not the raw problem", async () => {
    // Arrange: two reports of the tenant are being computed, so the third is refused for 5 s.
    const { get } = busyOnce();
    const { ctx, leave } = leavable(get);
    await reportsPage(ctx);
    expect(textOf(ctx.root)).not.toContain("Too many requests (429)");
    expect(textOf(ctx.root)).toMatch(/reports are busy/i);

    // Act
    byId(ctx.root, "report-retry")!.click();

    // Assess
    await vi.waitFor(() => expect(byId(ctx.root, "report-total")?.textContent).toBe("3"));
    expect(byId(ctx.root, "report-retry")).toBeUndefined();
    leave();
  });

  it("tries again by itself once the time a 429 names has passed", async () => {
    // Arrange
    vi.useFakeTimers();
    try {
      const { get, reportRequests } = busyOnce();
      const { ctx, leave } = leavable(get);
      await reportsPage(ctx);
      expect(textOf(ctx.root)).toContain("Trying again in 5 s.");

      // Act
      await vi.advanceTimersByTimeAsync(4_999);
      expect(reportRequests()).toBe(1);
      await vi.advanceTimersByTimeAsync(1);

      // Assess
      expect(reportRequests()).toBe(2);
      expect(byId(ctx.root, "report-total")?.textContent).toBe("3");
      leave();
    } finally {
      vi.useRealTimers();
    }
  });
});
