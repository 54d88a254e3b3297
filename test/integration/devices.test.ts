// Device inventory end to end: automation events sent with the real Service Bus SDK to
// automation-events, consumed by the local host, listed by GET /api/devices with eligibility,
// scoped and tenant-isolated; malformed events rejected once; the seeded demo tenant.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { ServiceBusClient, type ServiceBusMessage } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoDevices, demoRemovedDevice, type DemoDevice } from "../../local/demoTenant.js";
import type { DeviceView } from "../../shared/contracts/devices.js";
import { deviceFactsOf } from "../../functions/automation.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { TableDeviceStore } from "../../shared/adapters/tables/tableDeviceStore.js";
import { createTables } from "../../shared/adapters/tables/tables.js";
import { deviceUpsertedDataSchema } from "../../shared/contracts/automationEvents.js";
import { applyUpsert } from "../../shared/domain/deviceInventory.js";
import { api, eventually, stack, tokenFor, tokenOf } from "../support/api.js";
import { intendedEligibility } from "../support/demoEligibility.js";

const queue = "automation-events";
let client: ServiceBusClient;

beforeAll(() => {
  client = new ServiceBusClient(stack().serviceBusConnectionString);
});

afterAll(async () => {
  await client?.close();
});

interface Event {
  readonly type: string;
  readonly id: string;
  readonly tenantId: string;
  readonly occurredAt: string;
  readonly data: Record<string, unknown>;
}

const event = (type: string, tenantId: string, data: Record<string, unknown>, occurredAt = new Date().toISOString()): Event => ({
  type,
  id: randomUUID(),
  tenantId,
  occurredAt,
  data,
});

const toMessage = (e: Event | { id: string; body: unknown }): ServiceBusMessage =>
  "body" in e
    ? { messageId: e.id, body: e.body, contentType: "application/json" }
    : { messageId: e.id, body: { ...e, version: 1 }, contentType: "application/json", subject: e.type };

/** Sends in as few batches as the size limit allows, as an inventory sync would. */
async function send(events: readonly (Event | { id: string; body: unknown })[]): Promise<void> {
  const sender = client.createSender(queue);
  try {
    let batch = await sender.createMessageBatch();
    for (const e of events) {
      const m = toMessage(e);
      if (!batch.tryAddMessage(m)) {
        await sender.sendMessages(batch);
        batch = await sender.createMessageBatch();
        if (!batch.tryAddMessage(m)) throw new Error("an event does not fit in an empty batch");
      }
    }
    if (batch.count > 0) await sender.sendMessages(batch);
  } finally {
    await sender.close();
  }
}

const managedDevice = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: randomUUID(),
  deviceName: "DESKTOP-1",
  operatingSystem: "Windows",
  osVersion: "10.0.26100.2314",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  deviceType: "windowsRT",
  userId: randomUUID(),
  userPrincipalName: "adele@contoso.example",
  userDisplayName: "Adele Vance",
  emailAddress: "adele@contoso.example",
  roleScopeTagIds: ["0"],
  lastSyncDateTime: "2026-11-20T08:00:00Z",
  ...overrides,
});

const adminOf = (tenantId: string): Promise<string> => tokenFor({ tid: tenantId, oid: randomUUID(), name: "Tenant admin", roles: ["Intune.Administrator"] });

type Page = { value: DeviceView[]; continuationToken?: string };

/** Every device the caller can see, following continuation tokens. */
async function listAll(token: string, query = "", top = 200): Promise<DeviceView[]> {
  const out: DeviceView[] = [];
  let next: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const res = await api<Page>(`/devices?top=${top}${query}${next ? `&continuationToken=${next}` : ""}`, { token });
    if (res.status !== 200) throw new Error(`GET /devices answered ${res.status}: ${res.text}`);
    out.push(...res.body.value);
    next = res.body.continuationToken;
    if (!next) return out;
  }
  throw new Error("more than 1000 pages");
}

/** Waits until automation-events holds no message at all: every event sent has been settled. */
async function drained(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A new receiver peeks from the start of the queue; locked messages count as not done.
    const receiver = client.createReceiver(queue);
    const left = await receiver.peekMessages(1);
    await receiver.close();
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`automation-events still holds messages after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

const tables = () =>
  createTables({ kind: "connectionString", connectionString: stack().tablesConnectionString, allowInsecure: true }, localDevelopmentCredential);

const deviceOf = async (token: string, id: string) => api<DeviceView & { code?: string }>(`/devices/${id}`, { token });

/** Waits until the host has logged `text` for a message: proof it was processed, not just sent. */
async function processed(messageId: string, text: string): Promise<void> {
  const file = stack().hostLogFile;
  if (!file) throw new Error("the stack has no host log file");
  await eventually(
    async () =>
      readFileSync(file, "utf8")
        .split("\n")
        .some((l) => l.includes(messageId) && l.includes(text))
        ? true
        : undefined,
    30_000,
    `${text} for ${messageId}`,
  );
}

describe("inventory events", () => {
  it("appear in GET /api/devices with the right eligibility, and follow the tenant setting", async () => {
    // Prepare
    const tenantId = randomUUID();
    const token = await adminOf(tenantId);
    const windows = managedDevice({ deviceName: "ADELE-LAPTOP" });
    const corporate = managedDevice({ deviceName: "CORP-PC", managedDeviceOwnerType: "company" });
    const holoLens = managedDevice({ deviceName: "HOLOLENS-1", operatingSystem: "Windows Holographic for Business", deviceType: "holoLens" });
    const lobby = managedDevice({
      deviceName: "LOBBY-PC",
      deviceEnrollmentType: "windowsBulkUserless",
      userId: null,
      userPrincipalName: null,
      userDisplayName: null,
      emailAddress: null,
    });

    // Act
    await send([windows, corporate, holoLens, lobby].map((d) => event("device.upserted", tenantId, d)));
    const listed = await eventually(async () => {
      const all = await listAll(token);
      return all.length === 4 ? all : undefined;
    });

    // Assess
    const byName = new Map(listed.map((d) => [d.deviceName, d]));
    expect(listed.map((d) => d.deviceName)).toEqual(["ADELE-LAPTOP", "CORP-PC", "HOLOLENS-1", "LOBBY-PC"]);
    expect(byName.get("ADELE-LAPTOP")).toMatchObject({
      id: windows.id,
      platform: "windows",
      ownership: "personal",
      enrollmentType: "windowsAzureADJoin",
      userPrincipalName: "adele@contoso.example",
      scopeTags: ["0"],
      removed: false,
      remoteAssistance: { eligible: true, warnings: [], notificationChannel: "companyPortal" },
    });
    expect(byName.get("CORP-PC")?.remoteAssistance).toMatchObject({ eligible: false, reason: "organizationOwned", notificationChannel: "none" });
    expect(byName.get("HOLOLENS-1")?.remoteAssistance).toMatchObject({ eligible: false, reason: "unsupportedWindowsEdition" });
    expect(byName.get("LOBBY-PC")?.remoteAssistance).toMatchObject({ eligible: true, notificationChannel: "none" });
    expect(byName.get("LOBBY-PC")?.remoteAssistance.warnings).toHaveLength(1);
    expect((await deviceOf(token, String(windows.id))).body).toEqual(byName.get("ADELE-LAPTOP"));
    expect((await listAll(token, "&eligible=true")).map((d) => d.deviceName)).toEqual(["ADELE-LAPTOP", "LOBBY-PC"]);

    // Act: the tenant allows possibly unsupported Windows editions
    const patched = await api("/settings", { method: "PATCH", token, body: { allowPossiblyUnsupportedWindowsEditions: true } });

    // Assess: the same stored devices now read differently, filter included
    expect(patched.status).toBe(200);
    expect((await deviceOf(token, String(holoLens.id))).body.remoteAssistance).toMatchObject({ eligible: true, notificationChannel: "companyPortal" });
    expect((await listAll(token, "&eligible=true")).map((d) => d.deviceName)).toEqual(["ADELE-LAPTOP", "HOLOLENS-1", "LOBBY-PC"]);
    expect((await listAll(token, "&eligible=false")).map((d) => d.deviceName)).toEqual(["CORP-PC"]);
    // Found by name or by user; the lobby PC has no user.
    expect((await listAll(token, "&search=adele")).map((d) => d.deviceName).sort()).toEqual(["ADELE-LAPTOP", "CORP-PC", "HOLOLENS-1"]);
    expect((await listAll(token, "&search=LOBBY")).map((d) => d.deviceName)).toEqual(["LOBBY-PC"]);
  });

  it("ignores an out-of-order older event, and keeps a removed device listed as removed", async () => {
    // Prepare
    const tenantId = randomUUID();
    const token = await adminOf(tenantId);
    const device = managedDevice({ deviceName: "NEWER-NAME" });
    await send([event("device.upserted", tenantId, device, "2026-11-20T10:00:00Z")]);
    await eventually(async () => ((await deviceOf(token, String(device.id))).status === 200 ? true : undefined));

    // Act: an older version arrives late
    const older = event("device.upserted", tenantId, { ...device, deviceName: "OLDER-NAME", managedDeviceOwnerType: "company" }, "2026-11-20T09:00:00Z");
    await send([older]);
    await processed(older.id, "changed nothing");

    // Assess
    const after = await deviceOf(token, String(device.id));
    expect(after.body).toMatchObject({ deviceName: "NEWER-NAME", ownership: "personal", remoteAssistance: { eligible: true } });
    expect((await listAll(token, "&search=older")).length).toBe(0);

    // Act: the device is removed
    const removal = event("device.removed", tenantId, { id: String(device.id).toUpperCase() }, "2026-11-20T11:00:00Z");
    await send([removal]);
    const removed = await eventually(async () => {
      const res = await deviceOf(token, String(device.id));
      return res.body.removed ? res.body : undefined;
    });

    // Assess: still listed with its details, ineligible, and the removal is audited
    expect(removed).toMatchObject({
      deviceName: "NEWER-NAME",
      removedDateTime: "2026-11-20T11:00:00.000Z",
      remoteAssistance: { eligible: false, reason: "deviceRemoved" },
    });
    expect((await listAll(token)).map((d) => d.id)).toEqual([device.id]);
    const audit = await api<{ value: { activity: string; target: { id: string }; actor: { type: string } }[] }>("/auditEvents?activity=device.remove", {
      token,
    });
    expect(audit.body.value).toEqual([
      expect.objectContaining({ target: { type: "device", id: device.id }, actor: expect.objectContaining({ type: "automation" }) }),
    ]);
  });

  it("completes a malformed event and an unknown type once: audited, not redelivered, not dead-lettered", async () => {
    // Prepare
    const tenantId = randomUUID();
    const token = await adminOf(tenantId);
    const malformed = {
      id: randomUUID(),
      body: { type: "device.upserted", version: 1, id: randomUUID(), tenantId, occurredAt: new Date().toISOString(), data: { id: "no name or os" } },
    };
    const unknownType = {
      id: randomUUID(),
      body: { type: "device.exploded", version: 1, id: randomUUID(), tenantId, occurredAt: new Date().toISOString(), data: {} },
    };

    // Act
    await send([malformed, unknownType]);
    const rejected = await eventually(async () => {
      const res = await api<{ value: { target: { id: string }; detail?: string; result: string }[] }>("/auditEvents?activity=message.rejected", { token });
      return res.body.value.length >= 2 ? res.body.value : undefined;
    });

    // Assess: one audit event per message, naming it and why
    expect(rejected.map((e) => e.target.id).sort()).toEqual([malformed.id, unknownType.id].sort());
    expect(rejected.every((e) => e.result === "failure")).toBe(true);
    expect(rejected.find((e) => e.target.id === malformed.id)?.detail).toMatch(/data\.deviceName/);
    expect(rejected.find((e) => e.target.id === unknownType.id)?.detail).toMatch(/type/);

    // Assess: after a lock duration's worth of time nothing came back (a redelivery would
    // audit again) and neither message waits in the queue or its dead-letter queue.
    await new Promise((r) => setTimeout(r, 3_000));
    const again = await api<{ value: unknown[] }>("/auditEvents?activity=message.rejected", { token });
    expect(again.body.value).toHaveLength(2);
    const ours = new Set<string>([malformed.id, unknownType.id]);
    for (const subQueueType of [undefined, "deadLetter"] as const) {
      const receiver = client.createReceiver(queue, subQueueType ? { subQueueType } : {});
      const peeked = await receiver.peekMessages(500);
      await receiver.close();
      expect(peeked.filter((m) => ours.has(String(m.messageId)))).toEqual([]);
    }
    expect(await listAll(token)).toEqual([]);
  });

  it("keeps users from user.upserted (the licence check reads them)", async () => {
    // Prepare: an unlicensed admin cannot connect until a user.upserted says they hold a license
    const tenantId = randomUUID();
    const userId = randomUUID();
    const token = await tokenFor({ tid: tenantId, oid: userId, name: "Connector admin", roles: ["RemoteAssistance.Update"] });
    const before = await api<{ code?: string }>("/connector/connect", { method: "POST", token, body: { acceptLicenseAgreement: true } });

    // Act
    await send([
      event("user.upserted", tenantId, {
        id: userId.toUpperCase(),
        userPrincipalName: "alex@contoso.example",
        displayName: "Alex Wilber",
        mail: null,
        intuneLicensed: true,
        groups: [],
      }),
    ]);

    // Assess
    expect(before.body.code).toBe("intuneLicenseRequired");
    const after = await eventually(async () => {
      const res = await api<{ code?: string }>("/connector/connect", { method: "POST", token, body: { acceptLicenseAgreement: true } });
      return res.body.code === "intuneLicenseRequired" ? undefined : res;
    });
    expect(after.status).toBe(200);
  });
});

describe("paging, scope and tenants", () => {
  const tenantId = randomUUID();
  const total = 5_000;
  const berlinGroup = randomUUID();
  const ids: string[] = [];
  let admin = "";

  beforeAll(async () => {
    admin = await adminOf(tenantId);
    // Every third device carries the "berlin" scope tag; names repeat so order needs the id.
    const data = Array.from({ length: total }, (_, i) => {
      const d = managedDevice({ deviceName: `PC-${String(i % 1000).padStart(4, "0")}`, roleScopeTagIds: i % 3 === 0 ? ["0", "berlin"] : ["0"] });
      ids.push(String(d.id));
      return d;
    });
    // Every tenth device comes through the real entry point (an event on the queue, consumed by
    // the host); the rest is written with the store directly, as bulk transactions. On Azurite
    // the event path manages about 30 devices/s (each is a read plus a transaction, and Azurite
    // serves one request at a time), so 5,000 events would add three minutes to every CI run.
    const now = new Date().toISOString();
    const direct = data.filter((_, i) => i % 10 !== 0).map((d) => applyUpsert(undefined, tenantId, deviceFactsOf(deviceUpsertedDataSchema.parse(d)), now)!);
    await send(data.filter((_, i) => i % 10 === 0).map((d) => event("device.upserted", tenantId, d, now)));
    await new TableDeviceStore(tables()).createMany(tenantId, direct);
    // Listing while events are consumed would compete with the consumer for Azurite (which
    // scans its table for every query), so the wait watches the queue drain instead.
    await drained(120_000);
    const put = await api(`/roleAssignments/${randomUUID()}`, {
      method: "PUT",
      token: admin,
      body: { principalId: berlinGroup, principalType: "group", permission: "RemoteAssistance.Request", scopeTags: ["berlin"] },
    });
    expect(put.status).toBe(201);
  }, 180_000);

  it.each([200, 37])("pages of %i return each of 5,000 devices exactly once, in name order", async (top) => {
    // Act
    const all = await listAll(admin, "", top);

    // Assess
    const seen = all.map((d) => d.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...ids].sort());
    const keys = all.map((d) => `${d.deviceName.toLowerCase()}!${d.id}`);
    expect(keys).toEqual([...keys].sort());
  });

  it("a scoped admin sees only in-scope devices and gets 404 for the others", async () => {
    // Prepare
    const scoped = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "Berlin help desk", roles: [], groups: [berlinGroup] });
    const inScope = ids.filter((_, i) => i % 3 === 0);

    // Act
    const visible = await listAll(scoped, "", 200);
    const outside = await deviceOf(scoped, ids[1]);
    const inside = await deviceOf(scoped, ids[0]);

    // Assess
    expect(visible.map((d) => d.id).sort()).toEqual([...inScope].sort());
    expect(visible.every((d) => d.scopeTags.includes("berlin"))).toBe(true);
    expect(outside.status).toBe(404);
    expect(outside.body.code).toBe("notFound");
    expect(inside.status).toBe(200);
    expect((await listAll(scoped, "&search=pc-0001")).map((d) => d.id).sort()).toEqual(ids.filter((_, i) => i % 3 === 0 && i % 1000 === 1).sort());
  });

  it("another tenant's device is 404 and never listed", async () => {
    // Prepare
    const otherAdmin = await adminOf(randomUUID());

    // Act
    const res = await deviceOf(otherAdmin, ids[0]);
    const list = await api<Page>("/devices?top=200", { token: otherAdmin });

    // Assess
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("notFound");
    expect(list.body.value).toEqual([]);
  });

  it("answers 400 for a bad filter or a token from another query, 403 without a role", async () => {
    const first = await api<Page>("/devices?top=5", { token: admin });
    const noRole = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "End user", roles: [] });

    expect((await api<{ code: string }>("/devices?platform=symbian", { token: admin })).status).toBe(400);
    expect((await api<{ code: string }>("/devices?top=201", { token: admin })).status).toBe(400);
    expect((await api<{ code: string }>("/devices?colour=blue", { token: admin })).status).toBe(400);
    expect((await api<{ code: string }>(`/devices?top=5&eligible=true&continuationToken=${first.body.continuationToken}`, { token: admin })).body.code).toBe(
      "validationFailed",
    );
    expect((await api<{ code: string }>("/devices", { token: noRole })).status).toBe(403);
  });
});

describe("the seeded demo tenant", () => {
  const intended = intendedEligibility;
  const seeded: readonly DemoDevice[] = [...demoDevices, demoRemovedDevice];

  it("has one device per row, none left out", () => {
    expect(seeded.map((d) => d.row).sort()).toEqual(Object.keys(intended).sort());
  });

  it.each(seeded.map((d) => [d.row, d] as const))("%s shows its intended eligibility", async (row, d) => {
    // Prepare
    const token = await tokenOf("admin");

    // Act: the seed's events may still be on their way
    const device = await eventually(async () => {
      const res = await deviceOf(token, d.data.id);
      if (res.status !== 200) return undefined;
      return row === "retired / removed" && !res.body.removed ? undefined : res.body;
    });

    // Assess
    expect(device.remoteAssistance).toMatchObject(intended[row]);
    if (intended[row].eligible) expect(device.remoteAssistance.reason).toBeUndefined();
    expect(device).toMatchObject({ id: d.data.id, deviceName: d.data.deviceName, scopeTags: d.data.roleScopeTagIds });
  });

  it("lists every demo device to the tenant's administrator", async () => {
    const token = await tokenOf("admin");

    const all = await eventually(async () => {
      const list = await listAll(token);
      return list.length >= seeded.length ? list : undefined;
    });

    // Every seeded device is listed; the browser tests may have added devices of their own to the demo tenant.
    const listed = new Set(all.map((d) => d.id));
    expect(seeded.map((d) => d.data.id).filter((id) => !listed.has(id))).toEqual([]);
    expect(listed.size).toBe(all.length);
  });
});
