// The free-text fields a caller sends (ticket id, description, approval comment) at their
// schemas: printable text in, control, format (bidirectional overrides, zero-width
// characters) and unpaired surrogate characters out, on every way a request comes in.
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  automationDoorEventSchema,
  deviceUpsertedDataSchema,
  principalRefSchema,
  remoteAssistanceRequestedDataSchema,
  userUpsertedDataSchema,
} from "../../shared/contracts/automationEvents.js";
import { approvalDecisionBody, sessionRequestBody, ticketIdSchema } from "../../shared/contracts/sessions.js";

/** The paths and messages of the issues a schema finds, or "ok". */
function verdict(schema: z.ZodType, value: unknown): "ok" | { path: string; message: string }[] {
  const r = schema.safeParse(value);
  return r.success ? "ok" : r.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

const hidden = [
  ["NUL", "\u0000"],
  ["ESC", "\u001b"],
  ["DEL", "\u007f"],
  ["a C1 control (NEL)", "\u0085"],
  ["a right-to-left override", "\u202e"],
  ["a first-strong isolate", "\u2068"],
  ["a right-to-left mark", "\u200f"],
  ["a zero-width space", "\u200b"],
  ["a byte order mark", "\ufeff"],
  ["a soft hyphen", "\u00ad"],
  ["a lone high surrogate", "\ud800"],
  ["a lone low surrogate", "\udc00"],
] as const;

describe("a ticket id", () => {
  it.each([["INC0012345"], ["CHG-7 / Ärger mit Outlook"], ["工单-42"], ["INC 😀 1"]])("accepts printable text: %s", (ticketId) => {
    // Act
    const result = ticketIdSchema.safeParse(ticketId);

    // Assess
    expect(result).toEqual({ success: true, data: ticketId });
  });

  it.each([
    ...hidden,
    ["a tab", "\t"] as const,
    ["a line break", "\n"] as const,
    ["a line separator", "\u2028"] as const,
    ["a paragraph separator", "\u2029"] as const,
    ["a zero-width joiner", "\u200d"] as const,
  ])("refuses %s, naming the field", (_, ch) => {
    // Act
    const result = verdict(sessionRequestBody, { ticketId: `INC-1${ch}2` });

    // Assess: a control character also fails "printable characters only"; every issue names the field.
    expect(result).toContainEqual({ path: "ticketId", message: expect.stringContaining("U+202E") });
    expect(result !== "ok" && result.every((i) => i.path === "ticketId")).toBe(true);
  });
});

describe("a description and an approval comment", () => {
  it.each([
    ["lines, tabs and Windows line breaks", "Outlook crashes.\r\n\tSince Monday.\nINC-1"],
    ["right-to-left text", "שלום, Outlook לא עובד"],
    ["a zero-width non-joiner in Persian", "می\u200cخواهم"],
    ["an emoji sequence with zero-width joiners", "family 👨\u200d👩\u200d👧"],
  ])("accept %s", (_, text) => {
    // Act
    const request = sessionRequestBody.safeParse({ description: text });
    const decision = approvalDecisionBody.safeParse({ comment: text });

    // Assess
    expect(request).toEqual({ success: true, data: { description: text.trim() } });
    expect(decision).toEqual({ success: true, data: { comment: text.trim() } });
  });

  it.each(hidden)("refuse %s, naming the field", (_, ch) => {
    // Act
    const request = verdict(sessionRequestBody, { description: `Outlook ${ch}crashes` });
    const decision = verdict(approvalDecisionBody, { comment: `ok ${ch}for INC-1` });

    // Assess
    expect(request).toEqual([{ path: "description", message: expect.stringContaining("U+202E") }]);
    expect(decision).toEqual([{ path: "comment", message: expect.stringContaining("U+202E") }]);
  });
});

describe("a request from automation", () => {
  it("is held to the same rules at the door and on the queue", () => {
    // Prepare
    const data = { deviceId: "d1", description: "Outlook\u0000", ticketId: "\ud800\u202eINC" };
    const requestedBy = { id: "app-1", displayName: "Help desk tool" };

    // Act
    const door = verdict(automationDoorEventSchema, { type: "remoteAssistance.requested", version: 1, data });
    const queued = verdict(remoteAssistanceRequestedDataSchema, { ...data, requestedBy });
    const clean = verdict(remoteAssistanceRequestedDataSchema, { deviceId: "d1", description: "Outlook\ncrashes", ticketId: "INC-1", requestedBy });

    // Assess
    expect(door).toEqual([
      { path: "data.description", message: expect.stringContaining("U+202E") },
      { path: "data.ticketId", message: expect.stringContaining("U+202E") },
    ]);
    expect(queued).toEqual([
      { path: "description", message: expect.stringContaining("U+202E") },
      { path: "ticketId", message: expect.stringContaining("U+202E") },
    ]);
    expect(clean).toBe("ok");
  });
});

describe("names the service is told (inventory, events)", () => {
  const device = {
    id: "2f1b7c3e-0000-4000-8000-000000000001",
    deviceName: "LAPTOP",
    operatingSystem: "Windows",
    osVersion: "10.0.26100",
    managedDeviceOwnerType: "company",
    deviceEnrollmentType: "windowsAzureADJoin",
    userDisplayName: "Diego Siciliani",
  };

  it.each(hidden)("keeps the device, with %s in its name shown as U+FFFD", (_, ch) => {
    // Act: a device whose user renamed it, and a user and a requester with the character in their names.
    const parsedDevice = deviceUpsertedDataSchema.parse({ ...device, deviceName: `gnp${ch}.exe`, userDisplayName: `Diego${ch}` });
    const parsedUser = userUpsertedDataSchema.parse({
      id: "u1",
      userPrincipalName: "diego@contoso.example",
      displayName: `Die${ch}go`,
      intuneLicensed: true,
      groups: [],
    });
    const parsedPrincipal = principalRefSchema.parse({ id: "a1", displayName: `${ch}Adele` });

    // Assess: nothing refused, nothing hidden.
    expect(parsedDevice.deviceName).toBe("gnp\ufffd.exe");
    expect(parsedDevice.userDisplayName).toBe("Diego\ufffd");
    expect(parsedUser.displayName).toBe("Die\ufffdgo");
    expect(parsedPrincipal.displayName).toBe("\ufffdAdele");
  });

  it.each(hidden)("keeps the user, with %s in the user principal name shown as U+FFFD, as on a device", (_, ch) => {
    // Act: the same UPN on a user and as a device's primary user; GET /api/users shows the user's.
    const upn = `adele${ch}@contoso.example`;
    const parsedUser = userUpsertedDataSchema.parse({ id: "u1", userPrincipalName: upn, displayName: "Adele", intuneLicensed: true, groups: [] });
    const parsedDevice = deviceUpsertedDataSchema.parse({ ...device, userPrincipalName: upn });

    // Assess
    expect(parsedUser.userPrincipalName).toBe("adele\ufffd@contoso.example");
    expect(parsedUser.userPrincipalName).toBe(parsedDevice.userPrincipalName);
  });

  it.each(hidden)("keeps the device, with %s in Graph's enum-like values shown as U+FFFD (GET /api/devices shows them)", (_, ch) => {
    // Act
    const parsed = deviceUpsertedDataSchema.parse({
      ...device,
      managedDeviceOwnerType: `company${ch}`,
      deviceEnrollmentType: `windowsAzureADJoin${ch}`,
      deviceType: `windowsRT${ch}`,
      complianceState: `compliant${ch}`,
    });

    // Assess
    expect([parsed.managedDeviceOwnerType, parsed.deviceEnrollmentType, parsed.deviceType, parsed.complianceState]).toEqual([
      "company\ufffd",
      "windowsAzureADJoin\ufffd",
      "windowsRT\ufffd",
      "compliant\ufffd",
    ]);
  });

  it.each([
    ["a line separator", "\u2028"],
    ["a paragraph separator", "\u2029"],
  ])("shows %s in a name as U+FFFD: a requester's name cannot add lines to the end user's push or request", (_, ch) => {
    // Act: a requester, a device and its user whose names would break the line they are shown on.
    const parsedPrincipal = principalRefSchema.parse({ id: "a1", displayName: `Adele${ch}${ch}IT Department: accept now` });
    const parsedDevice = deviceUpsertedDataSchema.parse({ ...device, deviceName: `LAPTOP${ch}`, userDisplayName: `Diego${ch}` });

    // Assess
    expect(parsedPrincipal.displayName).toBe("Adele\ufffd\ufffdIT Department: accept now");
    expect(parsedDevice.deviceName).toBe("LAPTOP\ufffd");
    expect(parsedDevice.userDisplayName).toBe("Diego\ufffd");
  });

  it("keeps names in other scripts, emoji sequences and their joiners as they are", () => {
    const names = ["Ünïcödé-PC", "مهدی‌پور", "👩‍💻 Dev box", "東京-ノート"];
    for (const deviceName of names) expect(deviceUpsertedDataSchema.parse({ ...device, deviceName }).deviceName).toBe(deviceName);
  });
});
