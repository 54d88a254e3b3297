// HTTP contracts of the audit push subscriptions.
import { z } from "zod";

export const auditSubscriptionIdParams = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,46}[A-Za-z0-9])?$/, "1–48 letters, digits and dashes (a slug or a UUID)")
    .transform((v) => v.toLowerCase()),
});

export const auditSubscriptionBody = z.strictObject({
  url: z.string().min(1).max(2048),
  secret: z
    .string()
    .min(16)
    .max(256)
    .regex(/^[\x20-\x7E]+$/, "printable ASCII characters"),
});

export const auditSubscriptionSchema = z.object({
  id: z.string(),
  url: z.string(),
  createdAt: z.string(),
  createdBy: z.object({ id: z.string(), displayName: z.string() }),
  lastDeliveredAt: z.string().nullable(),
  lastError: z.object({ message: z.string(), at: z.string() }).nullable(),
});
export const auditSubscriptionListSchema = z.object({ value: z.array(auditSubscriptionSchema) });
