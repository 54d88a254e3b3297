// TeamViewer's wire format (snake_case JSON) as zod schemas, and the camelCase shapes the
// client hands out. Lenient exactly where docs/teamviewer.md marks a point unconfirmed.
import { z } from "zod";

export type SessionState = "open" | "closed";

export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: Date;
}

export interface TeamViewerAccount {
  readonly userId: string;
  readonly name: string;
  readonly email?: string;
  readonly companyName?: string;
  readonly licenseType?: string;
}

export interface TeamViewerEndCustomer {
  readonly name?: string;
  readonly email?: string;
}

export interface TeamViewerSession {
  readonly code: string;
  readonly state: SessionState;
  readonly groupId: string;
  readonly description?: string;
  readonly endCustomer?: TeamViewerEndCustomer;
  readonly customApi?: string;
  readonly createdAt?: Date;
  readonly validUntil?: Date;
  readonly closedAt?: Date;
  readonly supporterLink?: string;
  readonly endCustomerLink?: string;
  readonly webClientSupporterLink?: string;
  readonly online?: boolean;
}

interface CreateSessionCommon {
  readonly description?: string;
  readonly endCustomer?: TeamViewerEndCustomer;
  readonly validUntil?: Date;
  readonly waitingMessage?: string;
  readonly assignedUserId?: string;
  /** This project's session id, so a retry can find the session it already created. */
  readonly customApi?: string;
  readonly supportSessionType?: "Default" | "Pilot";
}

/** Exactly one of groupName (created when missing) or groupId. */
export type CreateSessionRequest = CreateSessionCommon &
  ({ readonly groupName: string; readonly groupId?: never } | { readonly groupId: string; readonly groupName?: never });

// ---------------------------------------------------------------------------------------
// Outgoing

/** TeamViewer's time format: UTC, whole seconds. */
export const formatTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

export const createSessionRequestSchema = z
  .object({
    groupName: z.string().trim().min(1).max(200).optional(),
    groupId: z
      .string()
      .regex(/^g\d+$/, "a group id looks like g123")
      .optional(),
    description: z.string().max(4000).optional(),
    endCustomer: z.object({ name: z.string().max(100).optional(), email: z.string().max(254).optional() }).optional(),
    validUntil: z
      .date()
      .refine((d) => !Number.isNaN(d.getTime()), "not a valid date")
      .optional(),
    waitingMessage: z.string().max(4000).optional(),
    assignedUserId: z
      .string()
      .regex(/^u\d+$/, "a user id looks like u123")
      .optional(),
    customApi: z.string().max(4000).optional(),
    supportSessionType: z.enum(["Default", "Pilot"]).optional(),
  })
  .refine((r) => (r.groupName === undefined) !== (r.groupId === undefined), { message: "give exactly one of groupName or groupId", path: ["groupName"] })
  .transform((r) =>
    withoutUndefined({
      groupname: r.groupName,
      groupid: r.groupId,
      description: r.description,
      end_customer: r.endCustomer && withoutUndefined({ name: r.endCustomer.name, email: r.endCustomer.email }),
      valid_until: r.validUntil && formatTime(r.validUntil),
      waiting_message: r.waitingMessage,
      assigned_userid: r.assignedUserId,
      custom_api: r.customApi,
      support_session_type: r.supportSessionType,
    }),
  );

/** Session codes go into the URL path, so only the documented characters pass. */
export const sessionCodeSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, "not a TeamViewer session code");

// ---------------------------------------------------------------------------------------
// Incoming

/** Optional fields may come as null as well as absent; both mean "not there". */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

const time = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/, "expected YYYY-MM-DDTHH:MM:SSZ")
  .transform((s) => new Date(s))
  .refine((d) => !Number.isNaN(d.getTime()), "not a valid time");

// Documented lowercase, seen capitalised (unconfirmed): compare case-insensitively.
const state = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(["open", "closed"]));

const seconds = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().positive());

export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === "bearer", "expected token_type bearer"),
  expires_in: seconds,
  refresh_token: z.string().min(1),
});

export const pingResponseSchema = z.object({ token_valid: z.boolean() }).transform((p) => ({ tokenValid: p.token_valid }));

export const accountResponseSchema = z
  .object({
    userid: z.string().min(1),
    name: z.string(),
    email: optional(z.string()),
    company_name: optional(z.string()),
    // Documented as license.license_type; also accepted flat.
    license: optional(z.object({ license_type: optional(z.string()) })),
    license_type: optional(z.string()),
  })
  .transform((a): TeamViewerAccount =>
    withoutUndefined({
      userId: a.userid,
      name: a.name,
      email: a.email,
      companyName: a.company_name,
      licenseType: a.license?.license_type ?? a.license_type,
    }),
  );

/** A group id is stored with the session and sent back as a query parameter: printable, bounded. */
const groupIdSchema = z.string().regex(/^[\x21-\x7e]{1,64}$/, "not a TeamViewer group id");

export const sessionResponseSchema = z
  .object({
    // Stored with the session and put in the path of the close: a code that could not be
    // sent back would leave a session nobody can close, so it is refused here.
    code: sessionCodeSchema,
    state,
    groupid: groupIdSchema,
    description: optional(z.string()),
    end_customer: optional(z.object({ name: optional(z.string()), email: optional(z.string()) })),
    custom_api: optional(z.string()),
    created_at: optional(time),
    valid_until: optional(time),
    closed_at: optional(time),
    supporter_link: optional(z.string()),
    end_customer_link: optional(z.string()),
    webclient_supporter_link: optional(z.string()),
    online: optional(z.boolean()),
  })
  .transform((s): TeamViewerSession =>
    withoutUndefined({
      code: s.code,
      state: s.state,
      groupId: s.groupid,
      description: s.description,
      endCustomer: s.end_customer && withoutUndefined({ name: s.end_customer.name, email: s.end_customer.email }),
      customApi: s.custom_api,
      createdAt: s.created_at,
      validUntil: s.valid_until,
      closedAt: s.closed_at,
      supporterLink: s.supporter_link,
      endCustomerLink: s.end_customer_link,
      webClientSupporterLink: s.webclient_supporter_link,
      online: s.online,
    }),
  );

export const sessionListResponseSchema = z
  .object({
    sessions: z.array(sessionResponseSchema),
    next_offset: optional(z.number().int().nonnegative()),
  })
  .transform((l) => withoutUndefined({ sessions: l.sessions, nextOffset: l.next_offset }));

/** The session fields that carry links the service stores, shows or sends on. */
export const sessionLinkFields = [
  ["supporterLink", "supporter_link"],
  ["endCustomerLink", "end_customer_link"],
  ["webClientSupporterLink", "webclient_supporter_link"],
] as const satisfies readonly (readonly [keyof TeamViewerSession, string])[];

const loopbackHosts: ReadonlySet<string> = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Why a TeamViewer link must not be used, or undefined when it may: only `https:` links
 * (printable ASCII, no user name or password) go to an admin's browser or an end user's
 * device. With `allowInsecureLoopback` (the local stack, whose TeamViewer fake serves
 * http) also `http://` to a loopback host, and nothing else over http.
 */
export function linkProblem(raw: string, allowInsecureLoopback: boolean): string | undefined {
  if (!/^[\x21-\x7e]{1,2048}$/.test(raw)) return "is empty, too long or has spaces or control characters";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not an absolute URL";
  }
  if (url.username !== "" || url.password !== "") return "carries a user name or password";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && allowInsecureLoopback && loopbackHosts.has(url.hostname.toLowerCase())) return undefined;
  return "is not https";
}

/** Error bodies are read leniently: any field may be missing or odd, the status still counts. */
export const errorBodySchema = z.object({
  error: z.string().max(200).optional().catch(undefined),
  error_description: z.string().optional().catch(undefined),
  error_code: z.number().optional().catch(undefined),
});

function withoutUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const key of Object.keys(o)) if (o[key] === undefined) delete o[key];
  return o;
}

// ---------------------------------------------------------------------------------------
// Reporting: connections (GET /reports/connections)

/** One connection of a supporter to a device, as TeamViewer's connection report lists it. */
export interface TeamViewerConnection {
  readonly id: string;
  readonly userId: string;
  readonly userName: string;
  readonly startDate: Date;
  /** Absent while the connection is still open. */
  readonly endDate?: Date;
  /** As TeamViewer sent it: with or without the `s` prefix (unconfirmed), or absent. */
  readonly sessionCode?: string;
  readonly deviceName?: string;
}

export interface ConnectionsPage {
  readonly records: readonly TeamViewerConnection[];
  /** Records of the page this client could not read (skipped, never guessed at). */
  readonly unreadable: number;
  /** Pass back as offset_id for the next page; absent on the last page. */
  readonly nextOffset?: string;
}

// Ids have been seen as GUIDs; a number is accepted too and read as its text.
const recordId = z.union([z.string().trim().min(1).max(200), z.number().int().nonnegative().transform(String)]);

export const connectionRecordSchema = z
  .object({
    id: recordId,
    userid: z.string().trim().min(1).max(200),
    username: optional(z.string().max(500)),
    devicename: optional(z.string().max(500)),
    start_date: time,
    end_date: optional(time),
    session_code: optional(z.string().trim().max(64)),
  })
  .refine((r) => r.end_date === undefined || r.end_date.getTime() >= r.start_date.getTime(), { message: "end_date is before start_date", path: ["end_date"] })
  .transform((r): TeamViewerConnection =>
    withoutUndefined({
      id: r.id,
      userId: r.userid,
      userName: r.username ?? r.userid,
      startDate: r.start_date,
      endDate: r.end_date,
      sessionCode: r.session_code === "" ? undefined : r.session_code,
      deviceName: r.devicename,
    }),
  );

/**
 * The page's envelope is checked strictly (it decides paging); its records one by one, so
 * one odd record is skipped rather than failing the page. `next_offset` is an id (a string)
 * but a number is accepted as well.
 */
export const connectionsPageSchema = z
  .object({
    records: z.array(z.unknown()).max(10_000),
    records_remaining: optional(z.number().int().nonnegative()),
    next_offset: optional(z.union([z.string().trim().min(1).max(200), z.number().int().nonnegative().transform(String)])),
  })
  .transform((p): ConnectionsPage => {
    const records: TeamViewerConnection[] = [];
    let unreadable = 0;
    for (const raw of p.records) {
      const parsed = connectionRecordSchema.safeParse(raw);
      if (parsed.success) records.push(parsed.data);
      else unreadable++;
    }
    // records_remaining 0 ends the paging even if an offset came along; otherwise the offset decides.
    return withoutUndefined({ records, unreadable, nextOffset: p.records_remaining === 0 ? undefined : p.next_offset });
  });
