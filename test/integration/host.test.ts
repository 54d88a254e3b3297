// The local Functions host (local/host) running a fixture app in this process: HTTP triggers, timers and
// Service Bus triggers behave as in Azure, against its own Service Bus emulator and test queue.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFunctionsHost, type FunctionsHost } from "../../local/host/host.js";

type Fixture = typeof import("../fixtures/hostApp/index.js");

const appRoot = resolve(import.meta.dirname, "../..");
const logLines: string[] = [];
let host: FunctionsHost;
let fixture: Fixture;
let staticDir: string;

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const recordsOf = (fn: string) => fixture.recorded.filter((r) => r.fn === fn);

beforeAll(async () => {
  // Prepare: a static folder for the portal path, then the host on a free port with the fixture app.
  staticDir = mkdtempSync(join(tmpdir(), "host-static-"));
  writeFileSync(join(staticDir, "index.html"), "<!doctype html><title>portal</title>");
  writeFileSync(join(staticDir, "app.js"), "console.log('portal');");
  host = await startFunctionsHost({
    appRoot,
    entry: "test/fixtures/hostApp/index.ts",
    port: 0,
    staticDir,
    log: (line) => logLines.push(line),
  });
  fixture = await import("../fixtures/hostApp/index.js");
});

afterAll(async () => {
  await host?.close();
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
      ]),
    );
  });

  it("refuses a second host in the same process while one runs", async () => {
    await expect(startFunctionsHost({ appRoot, entry: "test/fixtures/hostApp/index.ts", port: 0, log: () => undefined })).rejects.toThrow(
      /already running in this process/,
    );
  });
});

describe("HTTP triggers", () => {
  it("passes route params, query, headers and the JSON body, and returns status, headers, cookies and body", async () => {
    // Act
    const res = await fetch(`${host.url}/api/devices/dev-1/items/42?expand=user&expand=device&top=5`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-tenant-id": "tenant-a" },
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
      body: { description: "printer offline" },
    });
    const invocation = recordsOf("echo").at(-1)!;
    expect(logLines).toContainEqual(expect.stringMatching(new RegExp(`Executed 'Functions\\.echo' \\(Succeeded, Id=${invocation.invocationId}, Duration=\\d+ms\\)$`)));
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
  it("runs a runOnStartup every-second timer at start and then each second, one run at a time", async () => {
    const runs = await waitFor("three everySecond runs", () => (recordsOf("everySecond").length >= 3 ? recordsOf("everySecond") : undefined));

    const first = runs[0].input as Record<string, unknown>;
    // Monitoring (and so scheduleStatus) is off for schedules under a minute, as in the Timer extension.
    expect(first).toEqual({ schedule: { adjustForDST: true }, scheduleStatus: null, isPastDue: false });
    const gaps = runs.slice(1, 3).map((r, i) => r.startedAt - runs[i].startedAt);
    for (const gap of gaps) expect(gap).toBeGreaterThan(0);
    expect(gaps[1]).toBeGreaterThanOrEqual(900);
    expect(gaps[1]).toBeLessThanOrEqual(1_600);
    expect(new Set(runs.map((r) => r.invocationId)).size).toBe(runs.length);
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
