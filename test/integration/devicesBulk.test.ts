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
