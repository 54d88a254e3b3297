// The portal's Approvals page (portal/src/pages/approvals.ts): every request waiting for
// approval is offered, however many pages the API answers them in.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ApiClient, List } from "../../portal/src/api.js";
import type { PageContext } from "../../portal/src/context.js";
import { approvalsPage } from "../../portal/src/pages/approvals.js";
import type { Session } from "../../portal/src/types.js";
import { byId, installFakeDom, pageContext as portalPage, textOf } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());

const waiting = (id: string, deviceName: string): Session =>
  ({
    id,
    deviceId: `d-${id}`,
    device: { deviceName, operatingSystem: "Windows", osVersion: "11", userDisplayName: null, userPrincipalName: null },
    requestedBy: { id: "someone-else", displayName: "Help Desk", type: "user" },
    requestedAt: "2026-12-01T10:00:00.000Z",
    description: null,
    ticketId: null,
    acknowledgedWarnings: [],
    status: "pendingApproval",
  }) as unknown as Session;

function pageContext(get: (path: string, query?: Record<string, unknown>) => Promise<unknown>): PageContext {
  const api = { get, post: vi.fn() } as unknown as ApiClient;
  return portalPage({ api, user: { userId: "approver" }, perms: { approve: true } });
}

describe("portal approvals page", () => {
  it("offers the requests of every page, not only the first", async () => {
    // Arrange: the API answers the queue in two pages.
    const pages: Record<string, List<Session>> = {
      first: { value: [waiting("s1", "PC-ONE")], continuationToken: "t1" },
      t1: { value: [waiting("s2", "PC-TWO")] },
    };
    const get = vi.fn(async (_path: string, query?: Record<string, unknown>) => pages[(query?.continuationToken as string | undefined) ?? "first"]);
    const ctx = pageContext(get);

    // Act
    await approvalsPage(ctx);

    // Assess
    expect(textOf(ctx.root)).toContain("PC-ONE");
    expect(textOf(ctx.root)).toContain("PC-TWO");
    expect(get).toHaveBeenLastCalledWith("/sessions", expect.objectContaining({ status: "pendingApproval", continuationToken: "t1" }));
  });

  it("says requests were left off when the queue is longer than the pages it reads", async () => {
    // Arrange: every page names a next one (more requests wait than the page reads).
    let n = 0;
    const get = vi.fn(async () => {
      n++;
      return { value: [waiting(`s${n}`, `PC-${n}`)], continuationToken: `t${n}` };
    });
    const ctx = pageContext(get);

    // Act
    await approvalsPage(ctx);

    // Assess: the requests read are offered, and the page says that more are waiting.
    expect(textOf(ctx.root)).toContain("PC-1");
    expect(textOf(ctx.root)).toMatch(/more requests may be waiting/i);
  });

  it("reads on from where it stopped, not from the start, when the pages it read were empty", async () => {
    // Arrange: a tenant busy enough that the 25 hours of requests take more pages than the page reads
    // at once, each bounded, empty, with a token; the one waiting request is further on.
    const get = vi.fn(async (_path: string, query?: Record<string, unknown>) => {
      const at = Number(String(query?.continuationToken ?? "t0").slice(1));
      return at < 12 ? { value: [], continuationToken: `t${at + 1}` } : { value: [waiting("s-late", "PC-LATE")] };
    });
    const ctx = pageContext(get);
    await approvalsPage(ctx);
    expect(textOf(ctx.root)).not.toContain("No requests are waiting");
    expect(textOf(ctx.root)).not.toMatch(/than the 0 shown/);

    // Act: the reader asks for the rest.
    byId(ctx.root, "approvals-read-further")!.click();

    // Assess: the reading goes on from the token it stopped at and finds the request.
    await vi.waitFor(() => expect(textOf(ctx.root)).toContain("PC-LATE"));
    expect(get).toHaveBeenCalledTimes(13);
    expect(byId(ctx.root, "approvals-read-further")).toBeUndefined();
  });
});
