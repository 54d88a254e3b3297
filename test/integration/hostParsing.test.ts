// The local host's readers of app configuration: ASP.NET route templates, NCRONTAB / TimeSpan timer
// schedules with %Setting% indirection, and host.json — each as the Functions host reads them.
import { describe, expect, it } from "vitest";
import { parseHostConfig, parseTimeSpan } from "../../local/host/hostConfig.js";
import { comparePrecedence, parseRouteTemplate } from "../../local/host/routeTemplate.js";
import { parseServiceBusEntity } from "../../local/host/serviceBusTrigger.js";
import { formatDotNetLocal, parseTimerSchedule, resolveSettingExpressions } from "../../local/host/timerTrigger.js";

describe("route templates", () => {
  it("binds parameters, case-insensitive literals, a trailing slash and percent-decoding", () => {
    const route = parseRouteTemplate("devices/{deviceId}/remoteAssistanceSessions");

    expect(route.match("/devices/d%201/remoteAssistanceSessions")).toEqual({ params: { deviceId: "d 1" } });
    expect(route.match("/DEVICES/d1/remoteassistancesessions/")).toEqual({ params: { deviceId: "d1" } });
    expect(route.match("/devices/d1")).toBeUndefined();
    expect(route.match("/devices/d1/remoteAssistanceSessions/extra")).toBeUndefined();
  });

  it("applies constraints, optional parameters, defaults and catch-alls", () => {
    const typed = parseRouteTemplate("items/{id:int}/{flag:bool?}");
    const ranged = parseRouteTemplate("x/{id:guid}/{n:range(1,5)}/{code:regex(^[a-z]{{2}}$)}");
    const defaulted = parseRouteTemplate("report/{period=month}");
    const catchAll = parseRouteTemplate("files/{**path}");
    const file = parseRouteTemplate("download/{name}.{ext?}");

    expect(typed.match("/items/42")).toEqual({ params: { id: "42" } });
    expect(typed.match("/items/42/TRUE")).toEqual({ params: { id: "42", flag: "TRUE" } });
    expect(typed.match("/items/4294967296")).toBeUndefined(); // beyond int32
    expect(typed.match("/items/42/maybe")).toBeUndefined();
    expect(ranged.match("/x/0f8fad5b-d9cb-469f-a165-70867728950e/3/ab")).toEqual({
      params: { id: "0f8fad5b-d9cb-469f-a165-70867728950e", n: "3", code: "ab" },
    });
    expect(ranged.match("/x/not-a-guid/3/ab")).toBeUndefined();
    expect(ranged.match("/x/0f8fad5b-d9cb-469f-a165-70867728950e/6/ab")).toBeUndefined();
    expect(ranged.match("/x/0f8fad5b-d9cb-469f-a165-70867728950e/3/abc")).toBeUndefined();
    expect(defaulted.match("/report")).toEqual({ params: { period: "month" } });
    expect(catchAll.match("/files/a/b%2Fc/d")).toEqual({ params: { path: "a/b%2Fc/d" } });
    expect(catchAll.match("/files")).toEqual({ params: {} });
    expect(file.match("/download/a.b.tar")).toEqual({ params: { name: "a.b", ext: "tar" } });
    expect(file.match("/download/readme")).toEqual({ params: { name: "readme" } });
  });

  it("rejects templates ASP.NET rejects", () => {
    expect(() => parseRouteTemplate("a/{b:foo}")).toThrow('the constraint reference "foo" could not be resolved');
    expect(() => parseRouteTemplate("a/{*rest}/b")).toThrow("a catch-all parameter must be the whole last segment");
    expect(() => parseRouteTemplate("a/{id}/{ID}")).toThrow('the parameter "ID" appears more than once');
    expect(() => parseRouteTemplate("a/{x}{y}")).toThrow("separated by literal text");
    expect(() => parseRouteTemplate("a/{x")).toThrow('unclosed "{"');
  });

  it("orders literal segments before constrained, plain and catch-all parameters", () => {
    const templates = ["devices/{*rest}", "devices/{id}", "devices/{id:int}", "devices/summary"].map(parseRouteTemplate);

    const ordered = [...templates].sort((a, b) => comparePrecedence(a.precedence, b.precedence)).map((t) => t.template);

    expect(ordered).toEqual(["devices/summary", "devices/{id:int}", "devices/{id}", "devices/{*rest}"]);
  });
});

describe("timer schedules", () => {
  it("reads six-field NCRONTAB with seconds, five-field, names and steps", () => {
    const from = new Date("2024-01-06T00:00:05.000Z"); // a Saturday

    expect(parseTimerSchedule("*/5 * * * * *").next(from).toISOString()).toBe("2024-01-06T00:00:10.000Z");
    expect(parseTimerSchedule("0 30 9 * * Mon-Fri").next(from).toISOString()).toBe("2024-01-08T09:30:00.000Z");
    expect(parseTimerSchedule("30 9 * * Mon-Fri").next(from).toISOString()).toBe("2024-01-08T09:30:00.000Z");
    expect(parseTimerSchedule("0 0 0 1 Feb *").next(from).toISOString()).toBe("2024-02-01T00:00:00.000Z");
  });

  it("needs both day-of-month and day-of-week to match when both are given, as NCRONTAB does", () => {
    const fridayThe13th = parseTimerSchedule("0 0 9 13 * Fri");

    const first = fridayThe13th.next(new Date("2024-01-01T00:00:00Z"));
    const second = fridayThe13th.next(first);

    expect([first.toISOString(), second.toISOString()]).toEqual(["2024-09-13T09:00:00.000Z", "2024-12-13T09:00:00.000Z"]);
  });

  it("reads TimeSpan intervals and computes in WEBSITE_TIME_ZONE when one is given", () => {
    expect(parseTimerSchedule("00:10:00").next(new Date("2024-01-01T00:00:00Z")).toISOString()).toBe("2024-01-01T00:10:00.000Z");
    expect(parseTimerSchedule("0 0 9 * * *", "Europe/Berlin").next(new Date("2024-07-01T00:00:00Z")).toISOString()).toBe("2024-07-01T07:00:00.000Z");
    expect(formatDotNetLocal(new Date("2024-07-01T07:00:00.120Z"), "Europe/Berlin")).toBe("2024-07-01T09:00:00.12+02:00");
    expect(formatDotNetLocal(new Date("2024-07-01T07:05:00.000Z"), "UTC")).toBe("2024-07-01T07:05:00+00:00");
  });

  it("rejects what NCRONTAB does not know", () => {
    for (const bad of ["0 0 L * * *", "0 0 * * * 1#2", "0 0 ? * * *", "* * *", "0 61 * * * *", "0 0 H * * *"]) {
      expect(() => parseTimerSchedule(bad), bad).toThrow(/Timer schedule/);
    }
  });

  it("resolves %Setting% expressions and names a missing setting", () => {
    const env = { CleanupSchedule: "0 */10 * * * *" };

    expect(resolveSettingExpressions("%CleanupSchedule%", env)).toBe("0 */10 * * * *");
    expect(() => resolveSettingExpressions("%Nope%", env)).toThrow("'%Nope%' does not resolve to a value");
  });
});

describe("host.json and trigger options", () => {
  it("reads the route prefix and Service Bus options, with the documented defaults", () => {
    const config = parseHostConfig({
      extensions: { http: { routePrefix: "/v1/" }, serviceBus: { maxConcurrentCalls: 4, maxAutoLockRenewalDuration: "00:05:00" } },
      logging: { logLevel: { default: "Warning" } },
    });
    const defaults = parseHostConfig({ version: "2.0" });

    expect(config).toEqual({
      routePrefix: "v1",
      serviceBus: { maxConcurrentCalls: 4, maxAutoLockRenewalDurationMs: 300_000, autoCompleteMessages: true },
      logLevels: { default: "Warning" },
    });
    expect(defaults.routePrefix).toBe("api");
    expect(defaults.serviceBus).toEqual({ maxConcurrentCalls: 16, maxAutoLockRenewalDurationMs: 300_000, autoCompleteMessages: true });
    expect(() => parseHostConfig({ extensions: { serviceBus: { maxAutoLockRenewalDuration: "5 minutes" } } })).toThrow(
      "extensions.serviceBus.maxAutoLockRenewalDuration",
    );
  });

  it("reads .NET TimeSpans", () => {
    expect(parseTimeSpan("00:05:00")).toBe(300_000);
    expect(parseTimeSpan("1.02:03:04.5")).toBe(((26 * 60 + 3) * 60 + 4) * 1000 + 500);
    expect(() => parseTimeSpan("300")).toThrow("not a TimeSpan");
  });

  it("splits queue, dead-letter and subscription paths", () => {
    expect(parseServiceBusEntity({ queueName: "session-commands" }, {})).toEqual({
      entity: "session-commands",
      subQueueType: undefined,
      displayName: "session-commands",
    });
    expect(parseServiceBusEntity({ queueName: "%Q%/$DeadLetterQueue" }, { Q: "session-commands" })).toEqual({
      entity: "session-commands",
      subQueueType: "deadLetter",
      displayName: "session-commands/$DeadLetterQueue",
    });
    expect(parseServiceBusEntity({ topicName: "events", subscriptionName: "audit/$deadletterqueue" }, {})).toEqual({
      entity: "events",
      subscription: "audit",
      subQueueType: "deadLetter",
      displayName: "events/Subscriptions/audit/$deadletterqueue",
    });
  });
});
