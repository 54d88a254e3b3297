// The portal's device page (portal/src/pages/device.ts): its list of the device's earlier
// sessions follows the API's paging rule (a short or empty page with a token is not the end).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ApiClient } from "../../portal/src/api.js";
import { devicePage } from "../../portal/src/pages/device.js";
import type { Device } from "../../portal/src/types.js";
import { byId, installFakeDom, pageContext, textOf } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());

const device = {
  id: "d1",
  deviceName: "PC-ONE",
  operatingSystem: "Windows",
  osVersion: "11",
  ownership: "company",
  enrollmentType: "windowsAzureADJoin",
  userDisplayName: "Ada",
  userPrincipalName: "ada@contoso.test",
  emailAddress: null,
  scopeTags: ["0"],
  lastSyncDateTime: "2026-12-01T10:00:00.000Z",
  complianceState: "compliant",
  removed: false,
  remoteAssistance: { eligible: true, reason: null, reasonText: null, warnings: [] },
} as unknown as Device;

describe("portal device page", () => {
  it("does not say the device has no sessions when the API's page ended early with a token", async () => {
    // Arrange: the page read its share of storage and found none of this device's sessions the reader may see.
    const get = vi.fn(async (path: string) => (path === "/sessions" ? { value: [], continuationToken: "more" } : device));
    const ctx = {
      ...pageContext({ api: { get, post: vi.fn() } as unknown as ApiClient, user: { userId: "helper" }, perms: { read: true, request: false } }),
      params: { deviceId: "d1" },
    };

    // Act
    await devicePage(ctx);

    // Assess: no "No sessions yet", and a way to the rest.
    expect(textOf(ctx.root)).not.toContain("No sessions yet");
    expect(byId(ctx.root, "device-all-sessions")?.getAttribute("href")).toBe("#/sessions?deviceId=d1");
  });

  it("follows empty pages with a token to the device's sessions, as the sessions list does", async () => {
    // Arrange: the first two pages read their share of a large tenant's history and found none of this device's.
    const session = {
      id: "s9",
      deviceId: "d1",
      requestedBy: { id: "helper", displayName: "Help Desk", type: "user" },
      requestedAt: "2026-11-01T10:00:00.000Z",
      status: "closed",
    };
    const pages: Record<string, unknown> = {
      first: { value: [], continuationToken: "t1" },
      t1: { value: [], continuationToken: "t2" },
      t2: { value: [session] },
    };
    const get = vi.fn(async (path: string, query?: Record<string, unknown>) =>
      path === "/sessions" ? pages[(query?.continuationToken as string | undefined) ?? "first"] : device,
    );
    const ctx = {
      ...pageContext({ api: { get, post: vi.fn() } as unknown as ApiClient, user: { userId: "helper" }, perms: { read: true, request: false } }),
      params: { deviceId: "d1" },
    };

    // Act
    await devicePage(ctx);

    // Assess: the session is listed, and nothing says there are none.
    expect(textOf(ctx.root)).toContain("requested by Help Desk");
    expect(textOf(ctx.root)).not.toContain("No sessions yet");
    expect(get.mock.calls.filter(([path]) => path === "/sessions")).toHaveLength(3);
  });

  it("reads the device again when a request failed because the device changed hands while it waited", async () => {
    // Arrange: the page shows Ada as primary user; the session failed because the device went to Bob.
    const bob = { ...device, userDisplayName: "Bob", userPrincipalName: "bob@contoso.test" } as Device;
    let deviceReads = 0;
    const failed = {
      id: "s1",
      deviceId: "d1",
      device: { deviceName: "PC-ONE", operatingSystem: "Windows", osVersion: "11", userDisplayName: "Ada", userPrincipalName: "ada@contoso.test" },
      requestedBy: { id: "helper", displayName: "Help Desk", type: "user" },
      requestedAt: "2026-12-01T10:00:00.000Z",
      description: null,
      ticketId: null,
      acknowledgedWarnings: [],
      approval: { required: true, decision: null },
      status: "failed",
      history: [{ status: "failed", at: "2026-12-01T11:00:00.000Z" }],
      teamViewer: null,
      endUserNotification: { channel: "companyPortal", status: "pending" },
      endUserResponse: null,
      closedAt: null,
      closedBy: null,
      failure: { code: "deviceNotEligible", message: "The device was given to another primary user while the request waited; no session was created." },
      warnings: [],
      waitingForTeamViewerQuotaUntil: null,
      connections: [],
      neverConnected: false,
    };
    const get = vi.fn(async (path: string) => {
      if (path === "/sessions") return { value: [] };
      if (path === "/sessions/s1") return failed;
      deviceReads++;
      return deviceReads === 1 ? device : bob;
    });
    const base = pageContext({ api: { get, post: vi.fn() } as unknown as ApiClient, user: { userId: "helper" }, perms: { read: true, request: false } });
    const ctx = { ...base, params: { deviceId: "d1" }, query: new URLSearchParams({ session: "s1" }) };

    // Act
    await devicePage(ctx);

    // Assess: the details now name Bob, not Ada.
    await vi.waitFor(() => expect(textOf(byId(ctx.root, "device-details") as unknown as HTMLElement)).toContain("Bob (bob@contoso.test)"));
    expect(textOf(byId(ctx.root, "device-details") as unknown as HTMLElement)).not.toContain("Ada");
  });
});
