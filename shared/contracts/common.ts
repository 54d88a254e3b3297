// Schemas shared by every HTTP contract: ids, paging, problem details.
import { z } from "zod";

/** Tenant, user, device and group ids: GUID-like strings from Entra ID / Intune. */
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and dashes, at most 64")
  .transform((v) => v.toLowerCase());

export const topSchema = (max: number, fallback: number) => z.coerce.number().int("an integer").min(1).max(max).default(fallback);

export const continuationTokenSchema = z
  .string()
  .min(1)
  .max(2048)
  .regex(/^[A-Za-z0-9_-]+$/, "an opaque token from a previous page");

export const isoDateTimeSchema = z.iso.datetime({ offset: true });

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.string(),
  detail: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  correlationId: z.string(),
});

export const listOf = <T extends z.ZodType>(item: T) => z.object({ value: z.array(item), continuationToken: z.string().optional() });
