// Bulk inventory: a platform sync's burst of device.upserted events on automation-events,
// sent with the real Service Bus SDK, consumed by the local host in batches
// (cardinality "many") and written many devices per Table transaction (Azurite). Per
// message the outcome is the one-message path's: a bad event audited once and not retried,
// a stale event ignored, the good ones stored.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { DeviceView } from "../../shared/contracts/devices.js";
import { api, eventually, stack, tokenFor } from "../support/api.js";
import { envelope, managedDevice, sendAutomationEvents, type Envelope } from "./sessionsSupport.js";

type Page = { value: DeviceView[]; continuationToken?: string };

const adminOf = (tenantId: string): Promise<string> => tokenFor({ tid: tenantId, oid: randomUUID(), name: "Tenant admin", roles: ["Intune.Administrator"] });

async function listAll(token: string): Promise<DeviceView[]> {
  const out: DeviceView[] = [];
  let next: string | undefined;
  for (let pages = 0; pages < 200; pages++) {
    const res = await api<Page>(`/devices?top=200${next ? `&continuationToken=${next}` : ""}`, { token });
    if (res.status !== 200) throw new Error(`GET /devices answered ${res.status}: ${res.text}`);
    out.push(...res.body.value);
    next = res.body.continuationToken;
    if (!next) return out;
  }
  throw new Error("more than 200 pages");
}

const at = (e: Envelope, occurredAt: string): Envelope => ({ ...e, occurredAt });
const hostLog = (): string => readFileSync(stack().hostLogFile!, "utf8");
const rejections = async (token: string) =>
  (await api<{ value: { target: { id: string }; detail?: string }[] }>("/auditEvents?activity=message.rejected", { token })).body.value;

describe("bulk inventory", () => {
  it("lists all of a 3,000-device sync sent in one burst", async () => {
    // Prepare
    const tenantId = randomUUID();
    const token = await adminOf(tenantId);
    const events = Array.from({ length: 3_000 }, (_, i) =>
      envelope("device.upserted", tenantId, managedDevice({ deviceName: `BULK-${String(i).padStart(4, "0")}` })),
    );

    // Act
    const started = Date.now();
    await sendAutomationEvents(events);
    const listed = await eventually(
      async () => {
        const all = await listAll(token);
        return all.length === events.length ? all : undefined;
      },
      240_000,
      "3,000 devices listed",
    );
    const seconds = (Date.now() - started) / 1000;

    // Assess: every device once, under its own id, and they came in batches
    expect(new Set(listed.map((d) => d.id))).toEqual(new Set(events.map((e) => String(e.data.id))));
    expect(listed.every((d) => d.remoteAssistance.eligible)).toBe(true);
    expect(hostLog()).toMatch(/\d+ device\.upserted received in a batch of \d+/);
    console.log(`3,000 devices listed ${seconds.toFixed(1)} s after the burst (${Math.round(3_000 / seconds)} devices/s)`);
  }, 300_000);

  it("in one batch: audits a bad event once, ignores a stale one, stores the good ones, and keeps the newer of two for one device", async () => {
    // Prepare: a device stored at 10:00
    const tenantId = randomUUID();
    const token = await adminOf(tenantId);
    const stored = managedDevice({ deviceName: "STORED-NEWER" });
    await sendAutomationEvents([at(envelope("device.upserted", tenantId, stored), "2026-11-20T10:00:00Z")]);
    await eventually(async () => ((await api(`/devices/${String(stored.id)}`, { token })).status === 200 ? true : undefined));

    const bad = envelope("device.upserted", tenantId, { id: randomUUID(), deviceName: "NO-OS" });
    const stale = at(envelope("device.upserted", tenantId, { ...stored, deviceName: "STALE-OLDER" }), "2026-11-20T09:00:00Z");
    const good = Array.from({ length: 5 }, (_, i) => envelope("device.upserted", tenantId, managedDevice({ deviceName: `GOOD-${i}` })));
    const twice = managedDevice();
    const newerFirst = managedDevice();
    const pair = [
      at(envelope("device.upserted", tenantId, { ...twice, deviceName: "TWICE-OLD" }), "2026-11-20T09:00:00Z"),
      at(envelope("device.upserted", tenantId, { ...twice, deviceName: "TWICE-NEW" }), "2026-11-20T10:00:00Z"),
      at(envelope("device.upserted", tenantId, { ...newerFirst, deviceName: "FIRST-NEW" }), "2026-11-20T10:00:00Z"),
      at(envelope("device.upserted", tenantId, { ...newerFirst, deviceName: "FIRST-OLD" }), "2026-11-20T09:00:00Z"),
    ];

    // Act: all of it in one send (one transfer, so one batch while the consumer is idle)
    await sendAutomationEvents([good[0], bad, stale, ...good.slice(1), ...pair]);
    const listed = await eventually(
      async () => {
        const all = await listAll(token);
        return all.length === 8 ? all : undefined;
      },
      60_000,
      "the good devices listed",
    );
    await eventually(async () => ((await rejections(token)).length > 0 ? true : undefined), 30_000, "the bad event audited");

    // Assess: the good ones stored, the stale one ignored, the newer of each pair kept
    const names = Object.fromEntries(listed.map((d) => [d.id, d.deviceName]));
    for (let i = 0; i < good.length; i++) expect(names[String(good[i].data.id)]).toBe(`GOOD-${i}`);
    expect(names[String(stored.id)]).toBe("STORED-NEWER");
    expect(names[String(twice.id)]).toBe("TWICE-NEW");
    expect(names[String(newerFirst.id)]).toBe("FIRST-NEW");
    expect(
      hostLog()
        .split("\n")
        .some((l) => l.includes(stale.id) && l.includes("changed nothing")),
    ).toBe(true);
    // Assess: the bad one audited once, naming it, and not redelivered (that would audit again)
    await new Promise((r) => setTimeout(r, 3_000));
    const audited = await rejections(token);
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ target: { id: bad.id }, detail: expect.stringMatching(/automation-events/) });
  }, 120_000);
});

describe("inventory events out of order, across tenants", () => {
  const audits = async (token: string, activity: string) =>
    (await api<{ value: { target: { id: string }; detail?: string }[] }>(`/auditEvents?activity=${activity}`, { token })).body.value;
  const device = async (token: string, id: string) => (await api<DeviceView>(`/devices/${id}`, { token })).body;

  it("keeps a removed device removed under an older upsert and restores it with a newer one; each tenant's bad messages are audited there once", async () => {
    // Prepare: tenant A has a device stored at 10:00
    const [a, b] = [randomUUID(), randomUUID()];
    const [tokenA, tokenB] = await Promise.all([adminOf(a), adminOf(b)]);
    const laptop = managedDevice({ deviceName: "LAPTOP-10" });
    await sendAutomationEvents([at(envelope("device.upserted", a, laptop), "2026-11-20T10:00:00Z")]);
    await eventually(async () => ((await api(`/devices/${String(laptop.id)}`, { token: tokenA })).status === 200 ? true : undefined));
    const removed = at(envelope("device.removed", a, { id: laptop.id }), "2026-11-20T11:00:00Z");
    const older = at(envelope("device.upserted", a, { ...laptop, deviceName: "LAPTOP-1030" }), "2026-11-20T10:30:00Z");
    const future = { ...envelope("device.upserted", b, managedDevice()), version: 2 } as unknown as Envelope;
    const extraEnvelope = { ...envelope("device.upserted", b, managedDevice()), schema: "v1.1" } as Envelope;
    const extraData = managedDevice({ deviceName: "EXTRA-FIELDS", physicalMemoryInBytes: 17179869184, notes: "from Graph" });

    // Act: one send mixing both tenants: tenant A's removal and a late older upsert, tenant B's
    // future version, unknown envelope member, and a device with fields the service does not use
    await sendAutomationEvents([removed, future, older, extraEnvelope, envelope("device.upserted", b, extraData)]);
    const afterOlder = await eventually(
      async () => {
        const d = await device(tokenA, String(laptop.id));
        return d.removed && d.deviceName === "LAPTOP-1030" ? d : undefined;
      },
      30_000,
      "the removal and the older details",
    );
    await eventually(async () => ((await audits(tokenB, "message.rejected")).length === 2 ? true : undefined), 30_000, "tenant B's rejections");
    await sendAutomationEvents([at(envelope("device.upserted", a, { ...laptop, deviceName: "LAPTOP-12" }), "2026-11-20T12:00:00Z")]);
    const restored = await eventually(
      async () => {
        const d = await device(tokenA, String(laptop.id));
        return d.removed ? undefined : d;
      },
      30_000,
      "the device restored",
    );

    // Assess
    expect(afterOlder.remoteAssistance.eligible).toBe(false);
    expect(restored).toMatchObject({ deviceName: "LAPTOP-12", removedDateTime: null });
    expect((await audits(tokenA, "device.remove")).map((e) => e.target.id)).toEqual([laptop.id]);
    expect((await audits(tokenA, "device.restore")).map((e) => e.target.id)).toEqual([laptop.id]);
    expect(await audits(tokenA, "message.rejected")).toEqual([]);
    expect((await device(tokenB, String(extraData.id))).deviceName).toBe("EXTRA-FIELDS");
    const rejected = await audits(tokenB, "message.rejected");
    expect(rejected.map((e) => e.target.id).sort()).toEqual([future.id, extraEnvelope.id].sort());
  }, 120_000);

  it("takes a group away from a user on the next request once user.upserted says so", async () => {
    // Prepare: a user whose overage token names no groups, in a group with Read in scope "berlin"
    const tenantId = randomUUID();
    const admin = await adminOf(tenantId);
    const group = randomUUID();
    const userId = randomUUID();
    const berlin = managedDevice({ roleScopeTagIds: ["berlin"] });
    await sendAutomationEvents([envelope("device.upserted", tenantId, berlin)]);
    const put = await api(`/roleAssignments/${randomUUID()}`, {
      method: "PUT",
      token: admin,
      body: { principalId: group, principalType: "group", permission: "RemoteAssistance.Request", scopeTags: ["berlin"] },
    });
    expect(put.status, put.text).toBe(201);
    const user = (groups: string[], occurredAt: string) =>
      at(
        envelope("user.upserted", tenantId, { id: userId, userPrincipalName: "u@contoso.example", displayName: "U", mail: null, intuneLicensed: true, groups }),
        occurredAt,
      );
    const overage = await tokenFor({ tid: tenantId, oid: userId, name: "U", hasgroups: true });
    await sendAutomationEvents([user([group, randomUUID()], "2026-11-20T10:00:00Z")]);
    await eventually(async () => ((await api(`/devices/${String(berlin.id)}`, { token: overage })).status === 200 ? true : undefined), 30_000, "access");

    // Act
    await sendAutomationEvents([user([randomUUID()], "2026-11-20T11:00:00Z"), user([group], "2026-11-20T10:30:00Z")]);

    // Assess: the newer event (no group) wins over the older one sent after it
    await eventually(async () => ((await api(`/devices/${String(berlin.id)}`, { token: overage })).status === 403 ? true : undefined), 30_000, "no access");
    expect((await api(`/devices/${String(berlin.id)}`, { token: overage })).status).toBe(403);
  }, 120_000);
});
