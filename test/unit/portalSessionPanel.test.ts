// The portal's live session panel (portal/src/pages/sessionPanel.ts): it follows a session
// while it is open, and stops once an answer says following it is pointless.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiProblem, type ApiClient } from "../../portal/src/api.js";
import { sessionPanel } from "../../portal/src/pages/sessionPanel.js";
import type { Session } from "../../portal/src/types.js";
import { byId, installFakeDom, pageContext, textOf } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const session = (over: Partial<Session> = {}): Session =>
  ({
    id: "s1",
    deviceId: "d1",
    device: { deviceName: "PC-ONE", operatingSystem: "Windows", osVersion: "11", userDisplayName: "Ada", userPrincipalName: "ada@contoso.test" },
    requestedBy: { id: "helper", displayName: "Help Desk", type: "user" },
    requestedAt: "2026-12-01T10:00:00.000Z",
    description: null,
    ticketId: null,
    acknowledgedWarnings: [],
    approval: { required: false, decision: null },
    status: "awaitingEndUser",
    history: [{ status: "requested", at: "2026-12-01T10:00:00.000Z" }],
    teamViewer: { code: "s123", supporterLink: "https://tv.test/s123", validUntil: "2026-12-01T11:00:00.000Z" },
    endUserNotification: { channel: "companyPortal", status: "sent", sentAt: "2026-12-01T10:00:01.000Z" },
    endUserResponse: null,
    closedAt: null,
    closedBy: null,
    failure: null,
    warnings: [],
    waitingForTeamViewerQuotaUntil: null,
    connections: [],
    neverConnected: false,
    ...over,
  }) as Session;

const problem = (status: number, code: string, detail: string): ApiProblem =>
  new ApiProblem({ title: code === "notFound" ? "Not found" : "Forbidden", status, code, detail, correlationId: "corr-1" });

function mountPanel(get: (path: string) => Promise<unknown>, post: (path: string) => Promise<unknown> = vi.fn()) {
  const api = { get: vi.fn(get), post: vi.fn(post) } as unknown as ApiClient & { get: ReturnType<typeof vi.fn> };
  const ctx = pageContext({ api, user: { userId: "helper" }, perms: { request: true, read: true } });
  const panel = sessionPanel(ctx, "s1");
  return { api, panel };
}

describe("portal session panel", () => {
  it("stops asking for a session the API says is not there, and says why", async () => {
    // Arrange: the session is gone (or another tenant's): every read answers 404.
    const { api, panel } = mountPanel(async () => {
      throw problem(404, "notFound", "Session s1 was not found.");
    });

    // Act: let a minute of polling pass.
    await vi.advanceTimersByTimeAsync(60_000);

    // Assess: one read, the server's detail on screen, and no more requests.
    expect(api.get).toHaveBeenCalledTimes(1);
    expect(textOf(panel)).toContain("Session s1 was not found.");
    expect(textOf(panel)).toContain("Stopped following this session");
  });

  it("stops following an open session once it is no longer visible to the reader", async () => {
    // Arrange: the session is shown, then the device moves out of the reader's scope.
    let reads = 0;
    const { api, panel } = mountPanel(async () => {
      reads++;
      if (reads === 1) return session();
      throw problem(403, "forbidden", "The device is outside your Request Remote Assistance scope.");
    });

    // Act
    await vi.advanceTimersByTimeAsync(60_000);

    // Assess: the refusal is shown once and polling ended.
    expect(api.get).toHaveBeenCalledTimes(2);
    expect(textOf(panel)).toContain("The device is outside your Request Remote Assistance scope.");
    expect(byId(panel, "session-polling-stopped")).toBeDefined();
  });

  it("keeps polling through a 429, as it says when to come back", async () => {
    // Arrange
    let reads = 0;
    const { api } = mountPanel(async () => {
      reads++;
      if (reads === 1) throw new ApiProblem({ title: "Too many requests", status: 429, code: "rateLimited", detail: "Try again in 2 s." });
      return session();
    });

    // Act
    await vi.advanceTimersByTimeAsync(10_000);

    // Assess: it came back after the 429 and goes on following the open session.
    expect(api.get.mock.calls.length).toBeGreaterThan(2);
  });
});

describe("portal session panel after Close", () => {
  it("follows a closed session until TeamViewer's side is closed or has failed, and says which", async () => {
    // Arrange: the API closes the session at once; TeamViewer's side is retried for minutes, then given up.
    const closedAt = new Date().toISOString();
    const closed = session({
      status: "closed",
      closedAt,
      closedBy: { id: "helper", displayName: "Help Desk", type: "user" } as Session["closedBy"],
      history: [
        { status: "requested", at: "2026-12-01T10:00:00.000Z" },
        { status: "closed", at: closedAt },
      ],
    });
    const message = "The TeamViewer session could not be closed: TeamViewer is unavailable (tried 9 times). It ends by itself when it is no longer valid.";
    const gaveUp = session({
      ...closed,
      failure: { code: "teamViewerCloseFailed", message },
      history: [...closed.history, { status: "closed", at: new Date(Date.now() + 4 * 60_000).toISOString(), detail: message }],
    });
    let state: "open" | "closed" | "gaveUp" = "open";
    const { panel } = mountPanel(
      async () => (state === "open" ? session() : state === "closed" ? closed : gaveUp),
      async () => {
        state = "closed";
        return undefined;
      },
    );
    await vi.advanceTimersByTimeAsync(0);

    // Act: close, let the retries run for a few minutes, then TeamViewer's close is given up.
    byId(panel, "close-session")!.click();
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    state = "gaveUp";
    await vi.advanceTimersByTimeAsync(60_000);

    // Assess: the reader learns TeamViewer's side stayed open, with the server's message.
    expect(textOf(panel)).toContain("TeamViewer's side of the session could not be closed");
    expect(textOf(panel)).toContain(message);
    expect(textOf(panel)).toContain("teamViewerCloseFailed");
  });

  it("stops once TeamViewer's side is closed, and never follows a session closed long ago", async () => {
    // Arrange: one session closed an hour ago (nothing noted since), and one whose close at TeamViewer is noted.
    const hourAgo = new Date(Date.now() - 60 * 60_000).toISOString();
    const old = session({ status: "closed", closedAt: hourAgo, history: [{ status: "closed", at: hourAgo }] });
    const now = new Date().toISOString();
    const done = session({
      status: "closed",
      closedAt: now,
      history: [
        { status: "closed", at: now },
        { status: "closed", at: now, detail: "TeamViewer session closed." },
      ],
    });
    const first = mountPanel(async () => old);
    const second = mountPanel(async () => done);

    // Act
    await vi.advanceTimersByTimeAsync(10 * 60_000);

    // Assess: one read each.
    expect(first.api.get).toHaveBeenCalledTimes(1);
    expect(second.api.get).toHaveBeenCalledTimes(1);
  });
});

describe("portal session panel messages", () => {
  it("shows the service's reason when a resend is refused because the device changed hands", async () => {
    // Arrange
    const detail = "The device was given to another primary user since the request. Close this session and request a new one.";
    const { panel } = mountPanel(
      async () => session(),
      async () => {
        throw new ApiProblem({ title: "Conflict", status: 409, code: "conflict", detail, correlationId: "corr-2" });
      },
    );
    await vi.advanceTimersByTimeAsync(0);

    // Act
    byId(panel, "resend-notification")!.click();
    await vi.advanceTimersByTimeAsync(5_000);

    // Assess: the detail stays on screen while the panel goes on polling, with the way out offered.
    expect(textOf(byId(panel, "session-action-result") as unknown as HTMLElement)).toContain(detail);
    expect(byId(panel, "close-session")).toBeDefined();
  });

  it("clears a failed read once the next read works", async () => {
    // Arrange: the second read finds the network down, the third works again.
    let reads = 0;
    const { api, panel } = mountPanel(async () => {
      reads++;
      if (reads === 2) throw new ApiProblem({ title: "The service could not be reached", code: "network", detail: "Check your network connection." });
      return session();
    });

    // Act
    await vi.advanceTimersByTimeAsync(5_000);

    // Assess
    expect(api.get.mock.calls.length).toBeGreaterThan(2);
    expect(textOf(panel)).not.toContain("could not be reached");
  });
});
