// TeamViewer links are https (the local fake's http://127.0.0.1 only because the local
// stack sets LOCAL_ALLOW_INSECURE_LINKS): a session-creation answer carrying any other link
// fails the session cleanly. The link is never stored, shown to the admin, handed to the
// end user or pushed, and the TeamViewer session behind it is closed.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { api, eventually, tokenFor } from "../support/api.js";
import { fake, newTenant, onboard, type TestTenant } from "./connectorSupport.js";
import { createDevices, eventuallySession, managedDevice, pushes, requestSession, teamViewerSessionsFor } from "./sessionsSupport.js";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await newTenant();
  await onboard(tenant);
});

afterEach(async () => {
  await fake().setVariants({ linkBase: null });
});

describe("TeamViewer links that are not https", () => {
  it.each([
    ["a javascript: link", "javascript:alert(document.domain)//"],
    ["an http link to another host", "http://evil.example"],
  ])("%s fails the session as a TeamViewer failure; nothing is stored, shown or pushed, and TeamViewer's session is closed", async (_, linkBase) => {
    // Prepare: a device with a primary user (who would be pushed to), and a fake whose links start with linkBase.
    const device = managedDevice();
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    await fake().setVariants({ linkBase });

    // Act
    const requested = await requestSession(tenant.helpdesk, device.id, { description: "links" });
    expect(requested.status, requested.text).toBe(202);
    const id = requested.body.id;
    const failed = await eventuallySession(tenant.helpdesk, id, (s) => s.status === "failed", "the session to fail");
    const [tv] = await eventually(
      async () => {
        const found = await teamViewerSessionsFor(id);
        return found[0]?.state === "closed" ? found : undefined;
      },
      30_000,
      "TeamViewer's session to be closed",
    );

    // Assess: a TeamViewer failure that names the field, not the link.
    expect(failed.failure).toMatchObject({ code: "teamViewerRejected" });
    expect(failed.failure?.message).toContain("supporter_link that is not https");
    expect(failed.endUserNotification.status).not.toBe("sent");
    expect(tv.custom_api).toBe(id);
    // Nothing of the link anywhere the service answers or records.
    const asAdmin = await api(`/sessions/${id}`, { token: tenant.admin });
    const audit = await api(`/auditEvents?top=200`, { token: tenant.admin });
    const endUser = await tokenFor({ tid: tenant.tenantId, oid: String(device.userId), name: "Device User", roles: [], groups: [] });
    const inbox = await api(`/me/remoteAssistanceRequests`, { token: endUser });
    for (const text of [asAdmin.text, audit.text, inbox.text, JSON.stringify(pushes())]) {
      expect(text).not.toContain(linkBase.slice(0, 12));
      expect(text).not.toContain(`/s/${tv.code.replace(/-/g, "")}`);
    }
    expect(asAdmin.body).toMatchObject({ status: "failed" });
    expect((asAdmin.body as { teamViewer: { supporterLink: string } | null }).teamViewer?.supporterLink ?? "").toBe("");
    expect(pushes().filter((p) => p.sessionId === id)).toEqual([]);
  });

  it("https links pass as they are", async () => {
    // Prepare
    const device = managedDevice();
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    await fake().setVariants({ linkBase: "https://start.teamviewer.example" });

    // Act
    const requested = await requestSession(tenant.helpdesk, device.id);
    const ready = await eventuallySession(tenant.helpdesk, requested.body.id, (s) => s.status === "awaitingEndUser", "the session to await the end user");

    // Assess
    expect(ready.teamViewer?.supporterLink).toMatch(/^https:\/\/start\.teamviewer\.example\/s\/s\d+\/supporter$/);
  });
});
