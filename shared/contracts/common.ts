// Schemas shared by every HTTP contract: ids, paging, problem details.
import { z } from "zod";

/** Tenant, user, device and group ids: GUID-like strings from Entra ID / Intune. */
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and dashes, at most 64")
  .transform((v) => v.toLowerCase());

/**
 * A page size from the query string: plain decimal digits only. Number() (what z.coerce uses)
 * also reads `0x10`, `1e1`, ` 10`, `+10` and `10.0`; a value a client did not mean as
 * written is refused, not guessed at. Digits become a number before the range check, so the
 * OpenAPI document still says integer.
 */
export const topSchema = (max: number, fallback: number) =>
  z
    // The default sits inside, where the OpenAPI document finds it.
    .preprocess(
      (v) => (typeof v === "string" && /^[0-9]+$/.test(v) ? Number(v) : v),
      z.number("an integer in decimal digits").int("an integer").min(1).max(max).default(fallback),
    );

export const continuationTokenSchema = z
  .string()
  .min(1)
  .max(2048)
  .regex(/^[A-Za-z0-9_-]+$/, "an opaque token from a previous page");

export const isoDateTimeSchema = z.iso.datetime({ offset: true });

/*
 * Free text a caller sends (ticket ids, descriptions, comments) is shown in the portal and
 * the Company Portal, sent to TeamViewer and written to the audit log and its SIEM export.
 * There a control character (NUL, ESC, …) can cut or forge a line, a format character (a
 * bidirectional override such as U+202E, a zero-width space) can make a reader see other
 * text than is stored, and an unpaired surrogate is not text at all. None of them is let in.
 */
// One line also has no line or paragraph separator (U+2028, U+2029: neither control nor format characters).
const hiddenInLine = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
// Multi-line text keeps tab and line breaks, and the zero-width (non-)joiners U+200C and
// U+200D that some scripts and emoji sequences need; they reorder nothing.
const hiddenInText = /(?![\t\n\r\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}]/u;

/** One line of text: no control, format (e.g. U+202E), line or paragraph separator, or unpaired surrogate characters. */
export const singleLineText = (schema: z.ZodString) =>
  schema.refine(
    (v) => !hiddenInLine.test(v),
    "no control characters, line or paragraph separators, invisible formatting characters (such as U+202E) or unpaired surrogates",
  );

/** Text that may span lines: as singleLineText, but tab, line breaks, U+200C and U+200D are allowed. */
export const multiLineText = (schema: z.ZodString) =>
  schema.refine(
    (v) => !hiddenInText.test(v),
    "no control characters other than tab and line breaks, invisible formatting characters (such as U+202E) or unpaired surrogates",
  );

// Names are shown on one line (a push, a request's heading): the line and paragraph
// separators U+2028 and U+2029 (neither control nor format characters) would break it.
const hiddenInNames = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

/**
 * Names this service is told rather than asked for (a device's name, which its user can set;
 * user and principal display names from inventory and events) are not refused for such a
 * character, which would lose the device or the event: each one (and each line or
 * paragraph separator) becomes U+FFFD (the replacement character), so a reader sees that
 * something was there instead of text that a bidirectional override turned around or a
 * forged second line. The zero-width joiners stay, as in multiLineText.
 */
export const neutralizeHidden = (value: string): string => value.replace(hiddenInNames, "\ufffd");

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
