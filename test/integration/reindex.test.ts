// The device re-index job (docs/architecture.md, "The device index"), on the running stack:
// the timer run at once through the host's admin API as in Azure, its device.reindex
// messages on the emulated Service Bus, the rows in Azurite. "Written under older rules" is
// made the only way a test can: a device's record loses its indexVersion (as records
// written before versions existed) and its index rows are deleted, so the list no longer
// shows it, exactly as a rule change would leave a device listed wrongly. The job must
// find those records and write their rows under today's rules; a HoloLens among them then
// moves between eligible=false and eligible=true with the tenant's Windows-editions setting.
import { odata, type TableClient } from "@azure/data-tables";
import { beforeAll, describe, expect, it } from "vitest";
import { deviceIndexVersion, recordKey } from "../../shared/adapters/tables/deviceIndex.js";
import { tableNames } from "../../shared/adapters/tables/tables.js";
import { makeEnvelope, messageTypes } from "../../shared/contracts/messages.js";
import { api, eventually } from "../support/api.js";
import { auditEvents, newTenant, sendToQueue, tables, type TestTenant } from "./connectorSupport.js";
import { createDevices, managedDevice, runFunctionNow } from "./sessionsSupport.js";

const jobsPartition = "~reindex";
let devices: TableClient;

beforeAll(() => {
  devices = tables().client(tableNames.devices);
});

/** Makes the device look written by a version-1 deploy whose rules did not list it. */
async function makeOld(tenantId: string, deviceId: string): Promise<void> {
  const record = await devices.getEntity<Record<string, unknown>>(tenantId, recordKey(deviceId));
  const { etag: _etag, timestamp: _timestamp, indexVersion: _version, ["odata.metadata"]: _m, ...rest } = record as Record<string, unknown>;
  expect(record.indexVersion).toBe(deviceIndexVersion);
  await devices.updateEntity({ ...rest, partitionKey: tenantId, rowKey: recordKey(deviceId) }, "Replace");
  for await (const row of devices.listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${tenantId} and RowKey gt ${"i|"} and RowKey lt ${"i}"}`, select: ["RowKey", "deviceId"] },
  })) {
    if (String(row.rowKey).includes(deviceId)) await devices.deleteEntity(tenantId, row.rowKey!);
  }
}

async function listedIds(token: string): Promise<string[]> {
  const ids: string[] = [];
  let path = "/devices?top=100";
  for (;;) {
    const res = await api<{ value: { id: string }[]; "@odata.nextLink"?: string; continuationToken?: string }>(path, { token });
    expect(res.status, res.text).toBe(200);
    ids.push(...res.body.value.map((d) => d.id));
    if (!res.body.continuationToken) return ids.sort();
    path = `/devices?top=100&continuationToken=${encodeURIComponent(res.body.continuationToken)}`;
  }
}

async function job(tenantId: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await devices.getEntity<Record<string, unknown>>(jobsPartition, tenantId);
  } catch {
    return undefined;
  }
}

/** The tenant's job row once it has finished. */
function finishedJob(tenantId: string, what: string): Promise<Record<string, unknown>> {
  return eventually(
    async () => {
      const j = await job(tenantId);
      return j?.finishedAt ? j : undefined;
    },
    90_000,
    what,
  );
}

async function storedVersion(tenantId: string, deviceId: string): Promise<unknown> {
  return (await devices.getEntity<{ indexVersion?: number }>(tenantId, recordKey(deviceId))).indexVersion;
}

const holoLens = (): Record<string, unknown> & { id: string } =>
  managedDevice({ deviceName: "HOLOLENS-REINDEX", operatingSystem: "Windows Holographic for Business", deviceType: "holoLens" });

async function listedIdsWhere(token: string, eligible: boolean): Promise<string[]> {
  const res = await api<{ value: { id: string }[] }>(`/devices?top=100&eligible=${eligible}`, { token });
  expect(res.status, res.text).toBe(200);
  return res.body.value.map((d) => d.id).sort();
}

async function prepare(count: number, first?: Record<string, unknown> & { id: string }): Promise<{ tenant: TestTenant; ids: string[] }> {
  const tenant = await newTenant();
  const made = [...(first ? [first] : []), ...Array.from({ length: count - (first ? 1 : 0) }, () => managedDevice())];
  await createDevices(tenant.tenantId, tenant.admin, made);
  const ids = made.map((d) => d.id).sort();
  expect(await listedIds(tenant.admin)).toEqual(ids);
  return { tenant, ids };
}

describe("the device re-index job", () => {
  it("a new index version: the timer queues a job per tenant, which rewrites every older device so the list follows today's rules, and audits it", async () => {
    // Prepare: 7 devices (one a HoloLens), 5 of them as an older deploy wrote them (gone
    // from the list), the HoloLens among them.
    const hl = holoLens();
    const { tenant, ids } = await prepare(7, hl);
    const old = [hl.id, ...ids.filter((id) => id !== hl.id).slice(0, 4)];
    for (const id of old) await makeOld(tenant.tenantId, id);
    expect(await listedIds(tenant.admin)).toEqual(ids.filter((id) => !old.includes(id)));
    // The deploy before this one had scheduled version 1 (and this tenant had no job).
    await devices.upsertEntity({ partitionKey: jobsPartition, rowKey: "~scheduled", version: deviceIndexVersion - 1 }, "Replace");

    // Act
    await runFunctionNow("deviceReindexTimer");

    // Assess: the job finishes, every device is listed again and stored under today's version.
    const finished = await finishedJob(tenant.tenantId, "the tenant's re-index job to finish");
    expect(finished).toMatchObject({ version: deviceIndexVersion, scanned: 7, rewritten: 5, failed: 0, open: false });
    expect(await listedIds(tenant.admin)).toEqual(ids);
    for (const id of ids) expect(await storedVersion(tenant.tenantId, id)).toBe(deviceIndexVersion);
    // The HoloLens follows the tenant's setting again: not eligible, then eligible once the
    // setting allows possibly unsupported Windows editions, then not again.
    expect(await listedIdsWhere(tenant.admin, false)).toEqual([hl.id]);
    for (const allow of [true, false]) {
      const patched = await api("/settings", { method: "PATCH", token: tenant.admin, body: { allowPossiblyUnsupportedWindowsEditions: allow } });
      expect(patched.status, patched.text).toBe(200);
      expect(await listedIdsWhere(tenant.admin, true)).toEqual(allow ? ids : ids.filter((id) => id !== hl.id));
      expect(await listedIdsWhere(tenant.admin, false)).toEqual(allow ? [] : [hl.id]);
    }
    // The version counts as scheduled once every tenant of the stack has its job (there may be hundreds).
    await eventually(
      async () => ((await devices.getEntity<{ version: number }>(jobsPartition, "~scheduled")).version === deviceIndexVersion ? true : undefined),
      60_000,
      "the version to be marked scheduled",
    );

    // The audit log says it started and finished, with the counts, under the system actor.
    const events = await eventually(
      async () => {
        const e = (await auditEvents(tenant.admin)).filter((x) => x.activity.startsWith("deviceIndex."));
        return e.some((x) => x.activity === "deviceIndex.reindexFinished") ? e : undefined;
      },
      30_000,
      "the re-index audit events",
    );
    expect(events.map((e) => e.activity).sort()).toEqual(["deviceIndex.reindexFinished", "deviceIndex.reindexStarted"]);
    const done = events.find((e) => e.activity === "deviceIndex.reindexFinished")!;
    expect(done.result).toBe("success");
    expect(done.detail).toMatch(/7 devices read, 5 rewritten, 0 skipped/);
    expect(done.target).toEqual({ type: "deviceIndex", id: `v${deviceIndexVersion}` });

    // Run again: the version is scheduled, nothing is queued or rewritten twice.
    await runFunctionNow("deviceReindexTimer");
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await job(tenant.tenantId))?.rewritten).toBe(5);
    expect((await auditEvents(tenant.admin)).filter((x) => x.activity.startsWith("deviceIndex.")).length).toBe(2);
  }, 150_000);

  it("a job that stopped after a saved page resumes from its checkpoint: the timer restarts it and only the devices after it are rewritten", async () => {
    // Prepare: 6 older devices, and a job row as a crashed worker leaves it: the first page
    // (3 devices) saved, then nothing for ten minutes.
    const { tenant, ids } = await prepare(6);
    for (const id of ids) await makeOld(tenant.tenantId, id);
    expect(await listedIds(tenant.admin)).toEqual([]);
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    await devices.upsertEntity(
      {
        partitionKey: jobsPartition,
        rowKey: tenant.tenantId,
        version: deviceIndexVersion,
        after: ids[2],
        scanned: 3,
        rewritten: 3,
        failed: 0,
        createdAt: tenMinutesAgo,
        startedAt: tenMinutesAgo,
        updatedAt: tenMinutesAgo,
        deadLetters: 0,
        open: true,
      },
      "Replace",
    );
    // This deploy's version is already scheduled: only the restart can move the job.
    await devices.upsertEntity({ partitionKey: jobsPartition, rowKey: "~scheduled", version: deviceIndexVersion }, "Replace");

    // Act
    await runFunctionNow("deviceReindexTimer");

    // Assess: finished with the devices after the checkpoint rewritten, the ones before it
    // untouched (a restart from the beginning would have listed them too).
    const finished = await finishedJob(tenant.tenantId, "the restarted job to finish");
    expect(finished).toMatchObject({ scanned: 6, rewritten: 6, failed: 0, open: false });
    expect(await listedIds(tenant.admin)).toEqual(ids.slice(3));
    expect(await Promise.all(ids.map((id) => storedVersion(tenant.tenantId, id)))).toEqual([
      undefined,
      undefined,
      undefined,
      deviceIndexVersion,
      deviceIndexVersion,
      deviceIndexVersion,
    ]);
    const events = await eventually(
      async () => {
        const e = (await auditEvents(tenant.admin)).filter((x) => x.activity === "deviceIndex.reindexFinished");
        return e.length > 0 ? e : undefined;
      },
      30_000,
      "the finished event",
    );
    expect(events[0].detail).toMatch(/6 devices read, 6 rewritten, 0 skipped/);
  }, 150_000);

  it("a device.reindex message without a job, or for another version, changes nothing: only the timer starts jobs", async () => {
    // Prepare: a tenant whose one device is older, with no job at all.
    const { tenant, ids } = await prepare(1);
    await makeOld(tenant.tenantId, ids[0]);

    // Act: device.reindex messages as a careless producer might send them (no job; a future version).
    for (const version of [deviceIndexVersion, deviceIndexVersion + 1]) {
      await sendToQueue("device-index", makeEnvelope(messageTypes.deviceReindex, tenant.tenantId, { version }, { now: new Date() }));
    }
    await new Promise((r) => setTimeout(r, 3_000));

    // Assess: nothing rewritten, no job created by a message.
    expect(await job(tenant.tenantId)).toBeUndefined();
    expect(await storedVersion(tenant.tenantId, ids[0])).toBeUndefined();
    expect(await listedIds(tenant.admin)).toEqual([]);
  });
});
