// GET /api/users (the users the service knows, for picking a role assignment's principal)
// and GET /api/me/permissions (what the caller may do, so the portal need not probe).
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { api, eventually, tokenFor } from "../support/api.js";
import { envelope, sendAutomationEvents } from "./sessionsSupport.js";

interface UserView {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail?: string;
  intuneLicensed: boolean;
  groups: string[];
}

const tenantId = randomUUID();
const otherTenantId = randomUUID();
const group = randomUUID();
const people = [
  { name: "Adele Vance", upn: "adele" },
  { name: "Alex Wilber", upn: "alexw" },
  { name: "Diego Siciliani", upn: "diegos" },
  { name: "Lee Gu", upn: "leeg" },
  { name: "Megan Bowen", upn: "meganb" },
].map((p) => ({ ...p, id: randomUUID() }));
let admin = "";

async function listUsers(query: string, token = admin) {
  return api<{ value: UserView[]; continuationToken?: string }>(`/users${query}`, { token });
}

beforeAll(async () => {
  admin = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "Admin", roles: ["Intune.Administrator"] });
  await sendAutomationEvents([
    ...people.map((p) =>
      envelope("user.upserted", tenantId, {
        id: p.id,
        userPrincipalName: `${p.upn}@contoso.example`,
        displayName: p.name,
        mail: p.upn === "leeg" ? null : `${p.upn}@contoso.example`,
        intuneLicensed: p.upn !== "diegos",
        groups: p.upn === "leeg" ? [group] : [],
      }),
    ),
    envelope("user.upserted", otherTenantId, {
      id: randomUUID(),
      userPrincipalName: "adele@fabrikam.example",
      displayName: "Adele of Fabrikam",
      mail: null,
      intuneLicensed: true,
      groups: [],
    }),
  ]);
  await eventually(async () => ((await listUsers("")).body.value.length === people.length ? true : undefined), 30_000, "the users to be stored");
});

describe("GET /api/users", () => {
  it("lists the tenant's users with their UPN, licence and groups, and nobody else's", async () => {
    // Act
    const res = await listUsers("");

    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.value.map((u) => u.id).sort()).toEqual(people.map((p) => p.id).sort());
    expect(res.body.value.find((u) => u.displayName === "Lee Gu")).toEqual({
      id: people[3].id,
      userPrincipalName: "leeg@contoso.example",
      displayName: "Lee Gu",
      intuneLicensed: true,
      groups: [group],
    });
    expect(res.body.value.map((u) => u.displayName)).not.toContain("Adele of Fabrikam");
    expect(res.body.continuationToken).toBeUndefined();
  });

  it("searches part of the name, UPN or mail in any case", async () => {
    // Act
    const byName = await listUsers("?search=SICIL");
    const byUpn = await listUsers("?search=meganb@");
    const none = await listUsers("?search=nobody-here");

    // Assess
    expect(byName.body.value.map((u) => u.displayName)).toEqual(["Diego Siciliani"]);
    expect(byUpn.body.value.map((u) => u.displayName)).toEqual(["Megan Bowen"]);
    expect(none.body.value).toEqual([]);
  });

  it("reads a blank search (spaces only) as no search, as the device list does", async () => {
    // Act
    const spaces = await listUsers("?search=%20%20");
    const devices = await api("/devices?search=%20%20", { token: admin });

    // Assess
    expect(devices.status, devices.text).toBe(200);
    expect(spaces.status, spaces.text).toBe(200);
    expect(spaces.body.value.map((u) => u.id).sort()).toEqual(people.map((p) => p.id).sort());
  });

  it("pages with an opaque continuation token, each user once", async () => {
    // Act
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await listUsers(`?top=2${token ? `&continuationToken=${token}` : ""}`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.value.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.value.map((u) => u.id));
      token = res.body.continuationToken;
      pages++;
    } while (token && pages < 10);

    // Assess
    expect(seen.sort()).toEqual(people.map((p) => p.id).sort());
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it("rejects a malformed query and a forged continuation token with 400", async () => {
    // Act
    const badTop = await listUsers("?top=0");
    const unknown = await listUsers("?filter=x");
    const forged = await listUsers(`?continuationToken=${Buffer.from(JSON.stringify({ v: 1, rk: 5 })).toString("base64url")}`);

    // Assess
    for (const res of [badTop, unknown, forged]) {
      expect(res.status, res.text).toBe(400);
      expect((res.body as unknown as { code: string }).code).toBe("validationFailed");
    }
  });

  it("is for administrators only", async () => {
    // Prepare
    const helpdesk = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "Help desk", roles: ["RemoteAssistance.Request"] });

    // Act
    const res = await listUsers("", helpdesk);

    // Assess
    expect(res.status).toBe(403);
  });
});

describe("GET /api/me/permissions", () => {
  it("answers every signed-in user with what the API will let them do, role assignments included", async () => {
    // Prepare: a group assignment scoped to "berlin", and a tenant-wide View Reports assignment for one user.
    const scopedUser = randomUUID();
    const reportsUser = randomUUID();
    const put = async (body: Record<string, unknown>) => {
      const res = await api(`/roleAssignments/${randomUUID()}`, { method: "PUT", token: admin, body });
      expect(res.status, res.text).toBe(201);
    };
    await put({ principalId: group, principalType: "group", permission: "RemoteAssistance.Request", scopeTags: ["berlin"] });
    await put({ principalId: reportsUser, principalType: "user", permission: "RemoteAssistance.ViewReports", scopeTags: [] });
    const token = (oid: string, roles: string[], groups: string[] = []) => tokenFor({ tid: tenantId, oid, name: "Someone", roles, groups });

    // Act
    const [endUser, scoped, reports, administrator] = await Promise.all(
      [token(randomUUID(), []), token(scopedUser, [], [group]), token(reportsUser, []), Promise.resolve(admin)].map(async (t) =>
        api<Record<string, unknown>>("/me/permissions", { token: await t }),
      ),
    );

    // Assess
    expect(endUser.status, endUser.text).toBe(200);
    expect(endUser.body).toEqual({ administrator: false, update: false, request: null, read: null, reports: false, approve: false });
    expect(scoped.body).toEqual({
      administrator: false,
      update: false,
      request: { allDevices: false, scopeTags: ["berlin"] },
      read: { allDevices: false, scopeTags: ["berlin"] },
      reports: false,
      approve: false,
    });
    expect(reports.body).toMatchObject({ reports: true, request: null, administrator: false });
    expect(administrator.body).toEqual({
      administrator: true,
      update: true,
      request: { allDevices: true, scopeTags: [] },
      read: { allDevices: true, scopeTags: [] },
      reports: true,
      approve: false,
    });
  });
});
