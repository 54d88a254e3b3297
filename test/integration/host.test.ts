// The local Functions host (local/host) running a fixture app in this process: HTTP triggers, timers and
// Service Bus triggers behave as in Azure, against its own Service Bus emulator and test queue.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFunctionsHost, type FunctionsHost } from "../../local/host/host.js";
import { startServiceBusEmulator, type ServiceBusEmulator } from "../../local/servicebus/server.js";
import { hostTestQueue, waitFor } from "../fixtures/hostApp/support.js";

type Fixture = typeof import("../fixtures/hostApp/index.js");

const appRoot = resolve(import.meta.dirname, "../..");
const logLines: string[] = [];
let host: FunctionsHost;
let fixture: Fixture;
let staticDir: string;
let emulator: ServiceBusEmulator;
let hostStartingAt = 0;
let hostStartedAt = 0;
let client: ServiceBusClient;
const previousConnection = process.env.ServiceBusConnection;

const recordsOf = (fn: string) => fixture.recorded.filter((r) => r.fn === fn);

beforeAll(async () => {
  // Prepare: our own Service Bus emulator and queue, a static folder for the portal path, then the host
  // on a free port with the fixture app.
  emulator = await startServiceBusEmulator({ port: 0, queues: [hostTestQueue] });
  process.env.ServiceBusConnection = emulator.connectionString;
  process.env.HostTestMissingQueue = "no-such-queue";
  client = new ServiceBusClient(emulator.connectionString);
  staticDir = mkdtempSync(join(tmpdir(), "host-static-"));
  writeFileSync(join(staticDir, "index.html"), "<!doctype html><title>portal</title>");
  writeFileSync(join(staticDir, "app.js"), "console.log('portal');");
  hostStartingAt = Date.now();
  host = await startFunctionsHost({
    appRoot,
    entry: "test/fixtures/hostApp/index.ts",
    port: 0,
    staticDir,
    log: (line) => logLines.push(line),
  });
  hostStartedAt = Date.now();
  fixture = await import("../fixtures/hostApp/index.js");
});

afterAll(async () => {
  await host?.close();
  await client?.close();
  await emulator?.close();
  delete process.env.HostTestMissingQueue;
  if (previousConnection === undefined) delete process.env.ServiceBusConnection;
  else process.env.ServiceBusConnection = previousConnection;
  rmSync(staticDir, { recursive: true, force: true });
});

describe("start-up", () => {
  it("lists the fixture's functions with their triggers", () => {
    expect(host.url).toBe(`http://127.0.0.1:${host.port}`);
    expect(host.functions).toEqual(
      expect.arrayContaining([
        { name: "echo", trigger: "http" },
        { name: "boom", trigger: "http" },
        { name: "everySecond", trigger: "timerTrigger" },
        { name: "everyFiveMinutes", trigger: "timerTrigger" },
        { name: "queueWorker", trigger: "serviceBusTrigger" },
        { name: "deadLetters", trigger: "serviceBusTrigger" },
      ]),
    );
  });

  it("refuses a second host in the same process while one runs", async () => {
    await expect(startFunctionsHost({ appRoot, entry: "test/fixtures/hostApp/index.ts", port: 0, log: () => undefined })).rejects.toThrow(
      /already running in this process/,
    );
  });
});

describe("app lifecycle", () => {
  it("ran the appStart hook once, and lets pre- and post-invocation hooks wrap the handler and replace its result", async () => {
    const res = await fetch(`${host.url}/api/hooked`);

    expect(fixture.hookEvents.filter((e) => e.at >= hostStartingAt).map((e) => e.event)).toEqual(["appStart"]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ original: { body: "from the handler" }, seenBy: "preInvocation" });
  });

  it("refuses to register a function after start-up, as the worker does", async () => {
    const { app } = await import("@azure/functions");

    expect(() => app.http("tooLate", { route: "too-late", handler: () => ({}) })).toThrow("A function can only be registered during app startup.");
    expect((await fetch(`${host.url}/api/too-late`)).status).toBe(404);
  });
});

describe("admin API", () => {
  it("runs a timer or queue function on demand through POST /admin/functions/{name}, like the host", async () => {
    const timerRunsBefore = recordsOf("everyFiveMinutes").length;

    const timer = await fetch(`${host.url}/admin/functions/everyFiveMinutes`, { method: "POST", body: "{}" });
    const queue = await fetch(`${host.url}/admin/functions/queueWorker`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: JSON.stringify({ action: "ok", id: "admin-1" }) }),
    });
    const unknown = await fetch(`${host.url}/admin/functions/nope`, { method: "POST", body: "{}" });

    expect(timer.status).toBe(202);
    expect(queue.status).toBe(202);
    expect(unknown.status).toBe(404);
    await waitFor("the on-demand timer run", () => (recordsOf("everyFiveMinutes").length > timerRunsBefore ? true : undefined));
    const queueRun = await waitFor("the on-demand queue run", () => recordsOf("queueWorker").find((r) => (r.input as { id?: string }).id === "admin-1"));
    expect(queueRun.input).toEqual({ action: "ok", id: "admin-1" });
  });

  it("logs a request that failed in the host by its path, never its query (it may carry an OAuth code or state)", async () => {
    // Prepare: a name the host cannot decode makes the request fail in the host itself.
    const linesBefore = logLines.length;

    // Act
    const res = await fetch(`${host.url}/admin/functions/%E0%A4%A?code=QUERY-CODE-123&state=QUERY-STATE-456`, { method: "POST", body: "{}" });

    // Assess
    expect(res.status).toBe(500);
    const logged = logLines.slice(linesBefore).find((l) => l.includes("failed in the host"));
    expect(logged).toContain("/admin/functions/%E0%A4%A");
    expect(logged).not.toMatch(/QUERY-CODE-123|QUERY-STATE-456/);
  });
});

describe("HTTP triggers", () => {
  it("passes route params, query, headers and the JSON body, and returns status, headers, cookies and body", async () => {
    // Act
    const res = await fetch(`${host.url}/api/devices/dev-1/items/42?expand=user&expand=device&top=5`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-tenant-id": "tenant-a", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      body: JSON.stringify({ description: "printer offline" }),
    });

    // Assess
    expect(res.status).toBe(201);
    expect(res.headers.get("x-device-id")).toBe("dev-1");
    expect(res.headers.get("location")).toBe("/api/devices/dev-1");
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.getSetCookie()).toEqual(["session=a%20b; max-age=60; path=/; samesite=strict; httponly"]);
    expect(await res.json()).toEqual({
      method: "POST",
      params: { deviceId: "dev-1", itemId: "42" },
      // Repeated query keys arrive joined with "," as the host sends them.
      query: { expand: "user,device", top: "5" },
      tenant: "tenant-a",
      contentType: "application/json",
      traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      body: { description: "printer offline" },
    });
    const invocation = recordsOf("echo").at(-1)!;
    expect(logLines).toContainEqual(
      expect.stringMatching(new RegExp(`Executed 'Functions\\.echo' \\(Succeeded, Id=${invocation.invocationId}, Duration=\\d+ms\\)$`)),
    );
    expect(logLines).toContainEqual(expect.stringMatching(/\[echo\] echo for device dev-1$/));
  });

  it("answers 404 with an empty body for an unknown route, a failed constraint or a method the function does not take", async () => {
    const unknown = await fetch(`${host.url}/api/no/such/route`);
    const notAnInt = await fetch(`${host.url}/api/devices/dev-1/items/forty-two`, { method: "POST", body: "{}" });
    const wrongMethod = await fetch(`${host.url}/api/devices/dev-1/items/42`, { method: "DELETE" });

    for (const res of [unknown, notAnInt, wrongMethod]) {
      expect(res.status).toBe(404);
      expect(await res.text()).toBe("");
    }
  });

  it("matches optional and catch-all parameters", async () => {
    const [withName, withoutName, deep, empty] = await Promise.all([
      fetch(`${host.url}/api/files/report.pdf`).then((r) => r.text()),
      fetch(`${host.url}/api/files`).then((r) => r.text()),
      fetch(`${host.url}/api/tree/a/b/c%20d`).then((r) => r.json()),
      fetch(`${host.url}/api/tree`).then((r) => r.json()),
    ]);

    expect(withName).toBe("file:report.pdf");
    expect(withoutName).toBe("file:(none)");
    expect(deep).toEqual({ path: "a/b/c d" });
    expect(empty).toEqual({ path: null });
  });

  it("answers 500 with an empty body when the handler throws, and logs the failure", async () => {
    const res = await fetch(`${host.url}/api/boom`);

    expect(res.status).toBe(500);
    expect(await res.text()).toBe("");
    expect(logLines).toContainEqual(
      expect.stringMatching(/Executed 'Functions\.boom' \(Failed, Id=[0-9a-f-]{36}, Duration=\d+ms\): Error: boom from the fixture$/),
    );
  });

  it("answers 204 when the handler returns nothing", async () => {
    const res = await fetch(`${host.url}/api/nothing`, { method: "POST", body: "ignored" });

    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
  });

  it("answers 413 to a body over 100 MB without invoking the function", async () => {
    const before = recordsOf("echo").length;

    const res = await fetch(`${host.url}/api/devices/dev-1/items/1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: Buffer.alloc(104_857_601, 0x20),
    });

    expect(res.status).toBe(413);
    expect(recordsOf("echo").length).toBe(before);
  });

  it("serves the static folder outside the route prefix, falling back to index.html for page routes", async () => {
    const root = await fetch(`${host.url}/`);
    const script = await fetch(`${host.url}/app.js`);
    const deepLink = await fetch(`${host.url}/sessions/123`, { headers: { accept: "text/html" } });
    const missingAsset = await fetch(`${host.url}/missing.js`);
    const traversal = await fetch(`${host.url}/..%2f..%2fetc%2fpasswd`);

    expect(root.status).toBe(200);
    expect(root.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await root.text()).toContain("<title>portal</title>");
    expect(await script.text()).toBe("console.log('portal');");
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await deepLink.text()).toContain("<title>portal</title>");
    expect(missingAsset.status).toBe(404);
    expect(traversal.status).toBe(404);
  });
});

describe("timer triggers", () => {
  it("runs a runOnStartup every-second timer at start, then on each second", async () => {
    // The start-up run happened while the host started.
    const startupRun = recordsOf("everySecond")[0];
    expect(startupRun.startedAt).toBeGreaterThanOrEqual(hostStartingAt);
    expect(startupRun.startedAt).toBeLessThanOrEqual(hostStartedAt + 500);
    // Monitoring (and so scheduleStatus) is off for schedules under a minute, as in the Timer extension.
    expect(startupRun.input).toEqual({ schedule: { adjustForDST: true }, scheduleStatus: null, isPastDue: false });

    // Watch three scheduled runs while nothing else keeps the event loop busy.
    const seen = recordsOf("everySecond").length;
    const runs = await waitFor("three more everySecond runs", () => {
      const later = recordsOf("everySecond").slice(seen);
      return later.length >= 3 ? later.slice(0, 3) : undefined;
    });

    // On the second, give or take: Node's timers may fire a millisecond early (the host then
    // counts the run from its scheduled time), or late when the machine is busy.
    const fromSecond = (ms: number): number => Math.min(ms % 1000, 1000 - (ms % 1000));
    for (const run of runs) expect(fromSecond(run.startedAt)).toBeLessThan(300);
    for (const [a, b] of [
      [runs[0], runs[1]],
      [runs[1], runs[2]],
    ]) {
      expect(b.startedAt - a.startedAt).toBeGreaterThanOrEqual(700);
      expect(b.startedAt - a.startedAt).toBeLessThanOrEqual(1_300);
    }
    expect(new Set(runs.map((r) => r.invocationId)).size).toBe(3);
  });

  it("gives a timer of a minute or more its schedule status, in the host's JSON shape", async () => {
    const run = await waitFor("the everyFiveMinutes start-up run", () => recordsOf("everyFiveMinutes")[0]);

    const timer = run.input as { schedule: unknown; isPastDue: boolean; scheduleStatus: { last: string; next: string; lastUpdated: string } };
    expect(timer.schedule).toEqual({ adjustForDST: true });
    expect(timer.isPastDue).toBe(false);
    // Before a first scheduled run, Last and LastUpdated are DateTime.MinValue and Next is the coming occurrence.
    expect(timer.scheduleStatus.last).toBe("0001-01-01T00:00:00");
    expect(timer.scheduleStatus.lastUpdated).toBe("0001-01-01T00:00:00");
    expect(timer.scheduleStatus.next).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d[05]:00\+00:00$/);
    const next = Date.parse(timer.scheduleStatus.next);
    expect(next % 300_000).toBe(0);
    expect(next).toBeGreaterThan(run.startedAt - 300_000);
    expect(next).toBeLessThanOrEqual(run.startedAt + 300_000);
  });
});

describe("Service Bus triggers", () => {
  it("logs once, by name, a queue that does not exist, and keeps serving", async () => {
    const line = await waitFor("the missing-queue error", () => logLines.find((l) => l.includes("no-such-queue") && l.includes("error:")));
    await new Promise((r) => setTimeout(r, 1_000));

    expect(line).toMatch(/error: missingQueue: Service Bus queue 'no-such-queue' does not exist \(connection 'ServiceBusConnection'\)/);
    expect(logLines.filter((l) => l.includes("no-such-queue") && l.includes("does not exist"))).toHaveLength(1);
    expect((await fetch(`${host.url}/api/hooked`)).status).toBe(200);
  });

  async function peekIds(subQueueType?: "deadLetter"): Promise<string[]> {
    const receiver = client.createReceiver(hostTestQueue.name, subQueueType ? { subQueueType } : {});
    try {
      const messages = await receiver.peekMessages(50);
      return messages.map((m) => String(m.messageId));
    } finally {
      await receiver.close();
    }
  }

  it("hands a message sent with the SDK to the queue function with the host's trigger metadata, then completes it", async () => {
    // Prepare
    const id = `ok-${Date.now()}`;
    const sentAt = Date.now();

    // Act
    const sender = client.createSender(hostTestQueue.name);
    await sender.sendMessages({
      body: { action: "ok", id },
      messageId: id,
      correlationId: "corr-42",
      subject: "device.upserted",
      contentType: "application/json",
      applicationProperties: { TenantId: "tenant-a", Attempt: 2 },
    });
    await sender.close();
    const run = await waitFor("the queueWorker run", () => recordsOf("queueWorker").find((r) => (r.input as { id?: string }).id === id && r.finishedAt));

    // Assess: the library parsed the JSON body and camel-cased the host's binding data.
    expect(run.input).toEqual({ action: "ok", id });
    const meta = run.triggerMetadata!;
    expect(meta).toMatchObject({
      messageId: id,
      deliveryCount: 1,
      correlationId: "corr-42",
      subject: "device.upserted",
      label: "device.upserted",
      contentType: "application/json",
      applicationProperties: { tenantId: "tenant-a", attempt: 2 },
      userProperties: { tenantId: "tenant-a", attempt: 2 },
    });
    expect(meta.enqueuedTimeUtc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Math.abs(Date.parse(meta.enqueuedTimeUtc as string) - sentAt)).toBeLessThan(5_000);
    expect(meta.enqueuedTime).toMatch(/\+00:00$/);
    expect(meta.lockToken).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(typeof meta.sequenceNumber).toBe("number");
    expect(meta.expiresAtUtc).toMatch(/Z$/);
    expect(Object.keys(meta)).not.toContain("lockedUntilUtc");
    await expect.poll(() => peekIds(), { timeout: 10_000 }).not.toContain(id);
    expect(await peekIds("deadLetter")).not.toContain(id);
    expect(logLines).toContainEqual(
      expect.stringMatching(new RegExp(`Executed 'Functions\\.queueWorker' \\(Succeeded, Id=${run.invocationId}, Duration=\\d+ms\\)$`)),
    );
  });

  it("redelivers a failing message with a growing deliveryCount, then dead-letters it after maxDeliveryCount", async () => {
    // Prepare
    const id = `fail-${Date.now()}`;

    // Act
    const sender = client.createSender(hostTestQueue.name);
    await sender.sendMessages({ body: { action: "fail", id }, messageId: id });
    await sender.close();
    const deadLetterRun = await waitFor("the dead-letter function run", () => recordsOf("deadLetters").find((r) => (r.input as { id?: string }).id === id));

    // Assess: one run per delivery, abandoned each time, until the queue's maxDeliveryCount (3).
    const attempts = recordsOf("queueWorker").filter((r) => (r.input as { id?: string }).id === id);
    expect(attempts.map((r) => r.triggerMetadata?.deliveryCount)).toEqual([1, 2, 3]);
    expect(attempts.filter((r) => r.finishedAt)).toHaveLength(0);
    expect(logLines.filter((l) => /Executed 'Functions\.queueWorker' \(Failed, .*failing fail-/.test(l) && l.includes(id))).toHaveLength(3);

    // The SDK sees it on host-test/$DeadLetterQueue while the dead-letter function holds it…
    const dlqReceiver = client.createReceiver(hostTestQueue.name, { subQueueType: "deadLetter" });
    const peeked = (await dlqReceiver.peekMessages(50)).find((m) => m.messageId === id);
    await dlqReceiver.close();
    expect(peeked).toBeDefined();
    expect(peeked!.deadLetterReason).toBe("MaxDeliveryCountExceeded");
    expect(peeked!.body).toEqual({ action: "fail", id });
    // …and the function got it with the reason among its (camel-cased) application properties.
    expect(deadLetterRun.input).toEqual({ action: "fail", id });
    expect(deadLetterRun.triggerMetadata).toMatchObject({ messageId: id, applicationProperties: { deadLetterReason: "MaxDeliveryCountExceeded" } });

    // Once the dead-letter function finishes, its message is completed.
    fixture.openGate(`dead-letter:${id}`);
    await expect.poll(() => peekIds("deadLetter"), { timeout: 10_000 }).not.toContain(id);
    expect(deadLetterRun.finishedAt).toBeDefined();
  });
});
