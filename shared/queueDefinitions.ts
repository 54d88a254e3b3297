// The Service Bus queue definitions (infra/queues.json), parsed and validated once.
// The local emulator and the Bicep deployment both derive their queues from this file.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const isoDuration = /^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Milliseconds in an ISO 8601 duration of days, hours, minutes and seconds (`PT1M`, `P1DT2H`). */
export function parseIsoDuration(value: string): number {
  const m = isoDuration.exec(value);
  if (!m) throw new Error(`not an ISO 8601 duration (days to seconds): ${value}`);
  const [, d, h, min, s] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Math.round(Number(s ?? 0) * 1000);
}

const duration = z.string().refine((v) => isoDuration.test(v), { message: "expected an ISO 8601 duration such as PT1M" });

export const queueDefinitionSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,258}[a-z0-9]$/, "lower-case letters, digits and dashes"),
  lockDuration: duration,
  maxDeliveryCount: z.number().int().min(1).max(2000),
  requiresDuplicateDetection: z.boolean(),
  duplicateDetectionHistoryTimeWindow: duration,
  defaultMessageTimeToLive: duration,
  deadLetteringOnMessageExpiration: z.boolean(),
});
export type QueueDefinition = z.infer<typeof queueDefinitionSchema>;

export const queueDefinitionFileSchema = z.object({
  $comment: z.string().optional(),
  queues: z.array(queueDefinitionSchema).min(1),
});

export const queueDefinitionsPath = fileURLToPath(new URL("../infra/queues.json", import.meta.url));

export function loadQueueDefinitions(path: string = queueDefinitionsPath): QueueDefinition[] {
  return queueDefinitionFileSchema.parse(JSON.parse(readFileSync(path, "utf8"))).queues;
}

export const queueNames = {
  connectorCommands: "connector-commands",
  sessionCommands: "session-commands",
  deviceNotifications: "device-notifications",
  automationEvents: "automation-events",
  auditExport: "audit-export",
  deviceIndex: "device-index",
} as const;
