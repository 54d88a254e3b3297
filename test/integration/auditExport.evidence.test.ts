// The audit log as evidence, against the whole local stack: each administrative action is
// one event (with its actor, target, result and the request's correlation id), an action
// that changes nothing is none, and neither the list nor the export it feeds to a SIEM
// carries a secret: no OAuth state or code, no TeamViewer token, no subscription secret,
// no receiver URL's path or query. Also the delta tokens a SIEM may hold wrongly.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api, tokenFor } from "../support/api.js";
import { connect, eventuallyConnector, expectNoSecrets, followToCallback, newTenant, signInAtTeamViewer, storedTokenValue } from "./connectorSupport.js";

interface Event {
  id: string;
  at: string;
  actor: { id: string; displayName: string; type: string };
  activity: string;
  target: { type: string; id: string };
  result: string;
  detail?: string;
  correlationId?: string;
}

/** The whole export of a tenant: every delta page until one is not full. */
async function exported(token: string): Promise<{ events: Event[]; deltaToken: string }> {
  const events: Event[] = [];
  let deltaToken: string | undefined;
  for (;;) {
    const res = await api<{ value: Event[]; deltaToken: string }>(`/auditEvents/delta${deltaToken ? `?deltaToken=${deltaToken}` : ""}`, { token });
    expect(res.status, res.text).toBe(200);
    events.push(...res.body.value);
    deltaToken = res.body.deltaToken;
    if (res.body.value.length < 1000) return { events, deltaToken };
  }
}

const withCorrelation = (correlationId: string) => ({ "x-correlation-id": correlationId });

describe("the audit log as evidence", () => {
  it("has one event per action, with actor, target, result and correlation id, and no secret anywhere", async () => {
    // Prepare: a tenant; its connector admin connects TeamViewer (the state and code are seen on the way).
    const tenant = await newTenant();
    const { authorizeUrl, state } = await connect(tenant.connectorAdmin);
    const location = await signInAtTeamViewer(authorizeUrl, "allow");
    const code = location.searchParams.get("code")!;
    expect((await followToCallback(location)).status).toBe(302);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "the connector to be onboarded");
    const stored = JSON.parse((await storedTokenValue(tenant.tenantId))!.value) as { accessToken: string; refreshToken: string };

    // Act: administrative actions, each with a correlation id of its own.
    const run = randomUUID().slice(0, 8);
    const c = (name: string) => `ev-${run}-${name}`;
    const secret1 = `first-secret-${randomUUID()}`;
    const secret2 = `second-secret-${randomUUID()}`;
    const urlToken = `url-token-${randomUUID()}`;
    const url = `http://127.0.0.1:9/hook?token=${urlToken}`;
    const assignment = randomUUID();
    const calls: [string, string, Parameters<typeof api>[1], number][] = [
      ["sub-create", "/auditSubscriptions/evidence", { method: "PUT", body: { url, secret: secret1 } }, 201],
      ["sub-replace", "/auditSubscriptions/evidence", { method: "PUT", body: { url, secret: secret2 } }, 200],
      ["sub-delete", "/auditSubscriptions/evidence", { method: "DELETE" }, 204],
      ["sub-delete-missing", "/auditSubscriptions/evidence", { method: "DELETE" }, 404],
      [
        "ra-create",
        `/roleAssignments/${assignment}`,
        { method: "PUT", body: { principalId: randomUUID(), principalType: "user", permission: "RemoteAssistance.Request", scopeTags: [] } },
        201,
      ],
      [
        "ra-update",
        `/roleAssignments/${assignment}`,
        { method: "PUT", body: { principalId: randomUUID(), principalType: "group", permission: "RemoteAssistance.Request", scopeTags: ["tag-a"] } },
        200,
      ],
      ["ra-delete", `/roleAssignments/${assignment}`, { method: "DELETE" }, 204],
      ["ra-delete-missing", `/roleAssignments/${assignment}`, { method: "DELETE" }, 404],
      ["settings", "/settings", { method: "PATCH", body: { sessionTimeoutMinutes: 33 } }, 200],
      ["verify", "/connector/verify", { method: "POST", token: tenant.connectorAdmin }, 200],
    ];
    for (const [name, path, options, status] of calls) {
      const res = await api(path, { token: tenant.admin, ...options, headers: withCorrelation(c(name)) });
      expect(res.status, `${name}: ${res.text}`).toBe(status);
      expect(res.headers.get("x-correlation-id")).toBe(c(name));
    }
    const { events } = await exported(tenant.admin);
    const listed = await api<{ value: Event[] }>("/auditEvents?top=200", { token: tenant.admin });

    // Assess: one event per action that changed something, none for the 404s.
    const of = (name: string) => events.filter((e) => e.correlationId === c(name));
    const expected: [string, string, string, string][] = [
      ["sub-create", "auditSubscription.create", "auditSubscription", "evidence"],
      ["sub-replace", "auditSubscription.update", "auditSubscription", "evidence"],
      ["sub-delete", "auditSubscription.delete", "auditSubscription", "evidence"],
      ["ra-create", "roleAssignment.create", "roleAssignment", assignment],
      ["ra-update", "roleAssignment.update", "roleAssignment", assignment],
      ["ra-delete", "roleAssignment.delete", "roleAssignment", assignment],
      ["settings", "settings.update", "settings", tenant.tenantId],
    ];
    for (const [name, activity, targetType, targetId] of expected) {
      expect(of(name), name).toHaveLength(1);
      expect(of(name)[0], name).toMatchObject({
        activity,
        target: { type: targetType, id: targetId },
        result: "success",
        actor: { id: tenant.adminId, type: "user" },
      });
    }
    expect(of("sub-delete-missing")).toEqual([]);
    expect(of("ra-delete-missing")).toEqual([]);
    expect(of("verify").map((e) => e.activity)).toEqual(["connector.verify"]);
    expect(events.filter((e) => e.activity === "connector.signIn")).toHaveLength(1);
    // The list shows the same events as the export.
    expect(new Set(listed.body.value.map((e) => e.id))).toEqual(new Set(events.map((e) => e.id)));
    // No secret, token, code, state or URL credential in either.
    expectNoSecrets({ export: JSON.stringify(events), list: listed.text }, [state, code, stored.accessToken, stored.refreshToken, secret1, secret2, urlToken]);
  });
});

describe("delta tokens a SIEM may hold wrongly", () => {
  it("an empty tenant's first call is empty with a token that gives the first event later", async () => {
    const tenantId = randomUUID();
    const reader = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "SIEM", roles: ["RemoteAssistance.ViewReports"] });
    const admin = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "Admin", roles: ["Intune.Administrator"] });

    const first = await api<{ value: Event[]; deltaToken: string }>("/auditEvents/delta", { token: reader });
    expect((await api("/settings", { method: "PATCH", token: admin, body: { sessionTimeoutMinutes: 12 } })).status).toBe(200);
    const second = await api<{ value: Event[]; deltaToken: string }>(`/auditEvents/delta?deltaToken=${first.body.deltaToken}`, { token: reader });

    expect(first.status, first.text).toBe(200);
    expect(first.body.value).toEqual([]);
    expect(second.body.value.map((e) => e.activity)).toEqual(["settings.update"]);
  });

  it("refuses a token from the future, a forged one and garbage with 400 naming the token", async () => {
    const tenant = await newTenant();
    const { deltaToken } = await exported(tenant.admin);
    const { s } = JSON.parse(Buffer.from(deltaToken, "base64url").toString()) as { s: number };
    const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const bad = [
      forge({ v: 1, t: tenant.tenantId, s: s + 1 }),
      forge({ v: 1, t: tenant.tenantId, s: -1 }),
      forge({ v: 1, t: tenant.tenantId, s: 1.5 }),
      forge({ v: 1, t: tenant.tenantId, s: "1" }),
      forge({ v: 2, t: tenant.tenantId, s: 0 }),
      forge({ v: 1, t: tenant.tenantId.toUpperCase(), s: 0 }),
      forge([1]),
      forge(null),
      "bm90LWEtdG9rZW4",
      "A",
    ];
    for (const token of bad) {
      const res = await api<{ code: string; errors?: { path: string }[] }>(`/auditEvents/delta?deltaToken=${token}`, { token: tenant.admin });
      expect(res.status, `${token}: ${res.text}`).toBe(400);
      expect(res.body.code).toBe("validationFailed");
      expect(res.body.errors?.map((e) => e.path)).toContain("query.deltaToken");
    }
  });
});

describe("subscription ids that differ only in case", () => {
  it("name one subscription, kept in lower case: a second PUT replaces it", async () => {
    const tenant = await newTenant();
    const body = { url: "http://127.0.0.1:9/hook", secret: `case-secret-${randomUUID()}` };

    const upper = await api<{ id: string }>("/auditSubscriptions/Case-Sub", { method: "PUT", token: tenant.admin, body });
    const lower = await api<{ id: string }>("/auditSubscriptions/case-sub", { method: "PUT", token: tenant.admin, body });
    const list = await api<{ value: { id: string }[] }>("/auditSubscriptions", { token: tenant.admin });

    expect(upper.status, upper.text).toBe(201);
    expect(upper.body.id).toBe("case-sub");
    expect(lower.status, lower.text).toBe(200);
    expect(list.body.value.map((s) => s.id)).toEqual(["case-sub"]);
    expect((await api("/auditSubscriptions/CASE-SUB", { token: tenant.admin })).status).toBe(200);
  });
});

describe("GET /auditEvents at the edges of its filters", () => {
  it("answers 400 naming the parameter for values outside the contract, and 200 at its edges", async () => {
    // Prepare: one tenant with a few events.
    const tenant = await newTenant();
    for (const minutes of [41, 42, 43])
      expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: minutes } })).status).toBe(200);
    const all = (await api<{ value: Event[] }>("/auditEvents?top=200", { token: tenant.admin })).body.value;
    const newest = all[0];
    const q = (query: string) =>
      api<{ value: Event[]; continuationToken?: string; errors?: { path: string }[] }>(`/auditEvents?${query}`, { token: tenant.admin });
    const at = encodeURIComponent(newest.at);
    const old = encodeURIComponent(new Date(Date.parse(newest.at) - 401 * 86_400_000).toISOString());
    const firstPage = await q("top=1");

    // Act and assess: edges that are fine.
    expect((await q(`from=${at}&to=${at}`)).body.value.map((e) => e.id)).toContain(newest.id);
    expect((await q("top=200")).status).toBe(200);
    expect((await q("top=1")).body.value).toHaveLength(1);
    expect((await q(`top=1&continuationToken=${firstPage.body.continuationToken}`)).body.value[0].id).toBe(all[1].id);
    expect((await q("activity=no.such.activity")).body).toEqual({ value: [] });
    expect((await q(`to=${encodeURIComponent("2020-01-01T00:00:00+14:00")}`)).body).toEqual({ value: [] });
    // Outside the contract: 400 naming the parameter.
    for (const [query, path] of [
      ["top=0", "query.top"],
      ["top=201", "query.top"],
      ["top=1.5", "query.top"],
      ["top=-1", "query.top"],
      ["from=yesterday", "query.from"],
      ["to=2026-13-01T00:00:00Z", "query.to"],
      [`from=${at}&to=${encodeURIComponent(new Date(Date.parse(newest.at) - 1).toISOString())}`, "query.from"],
      [`from=${old}&to=${at}`, "query.from"],
      ["activity=settings%20update", "query.activity"],
      [`activity=${"a".repeat(101)}`, "query.activity"],
      ["continuationToken=%F0%9F%98%80", "query.continuationToken"],
      ["continuationToken=eyJ2IjoxLCJtIjoiMTk5OS0wMSIsInJrIjoieCJ9", "query.continuationToken"],
    ] as const) {
      const res = await q(query);
      expect(res.status, `${query}: ${res.text}`).toBe(400);
      expect(
        res.body.errors?.map((e) => e.path),
        query,
      ).toContain(path);
    }
  });
});
