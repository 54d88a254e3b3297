// The TeamViewer fake's snapshot file (dataDir/state.json): the records it keeps, as zod
// schemas, read back leniently (an unreadable file means starting empty) and written atomically.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { accountSchema } from "./control.js";

const accessTokenRecord = z.object({
  id: z.string(),
  hash: z.string(),
  clientId: z.string(),
  expiresAt: z.number(),
  revoked: z.boolean(),
  refreshId: z.string(),
  /** The sign-in this token descends from (a code exchange starts one; refreshes keep it). */
  grantId: z.string().optional(),
});
const refreshTokenRecord = z.object({ id: z.string(), hash: z.string(), clientId: z.string(), accessId: z.string(), spent: z.boolean() });
const codeRecord = z.object({
  hash: z.string(),
  clientId: z.string(),
  redirectUri: z.string(),
  expiresAt: z.number(),
  used: z.boolean(),
  accessIds: z.array(z.string()),
});
const sessionRecord = z.object({
  seq: z.number(),
  code: z.string(),
  closed: z.boolean(),
  groupid: z.string(),
  description: z.string().optional(),
  endCustomer: z.object({ name: z.string().optional(), email: z.string().optional() }).optional(),
  assignedUserId: z.string().optional(),
  customApi: z.string().optional(),
  waitingMessage: z.string().optional(),
  supportSessionType: z.string(),
  createdAt: z.number(),
  validUntil: z.number(),
  closedAt: z.number().optional(),
});
const groupRecord = z.object({ id: z.string(), name: z.string() });
const connectionRecord = z.object({
  id: z.string(),
  userid: z.string(),
  username: z.string(),
  sessionCode: z.string(),
  startDate: z.number(),
  endDate: z.number().optional(),
  devicename: z.string().optional(),
});
const snapshotSchema = z.object({
  version: z.literal(1),
  seq: z.number(),
  account: accountSchema,
  accessTokens: z.array(accessTokenRecord),
  refreshTokens: z.array(refreshTokenRecord),
  codes: z.array(codeRecord),
  groups: z.array(groupRecord),
  sessions: z.array(sessionRecord),
  connections: z.array(connectionRecord).default([]),
});

export type AccessTokenRecord = z.output<typeof accessTokenRecord>;
export type RefreshTokenRecord = z.output<typeof refreshTokenRecord>;
export type CodeRecord = z.output<typeof codeRecord>;
export type SessionRecord = z.output<typeof sessionRecord>;
export type GroupRecord = z.output<typeof groupRecord>;
export type ConnectionRecord = z.output<typeof connectionRecord>;

/** The snapshot in `file`; undefined on a first start or when it cannot be read (said in the log). */
export function readSnapshot(file: string, log: (line: string) => void): z.output<typeof snapshotSchema> | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined; // first start
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) {
    log(`ignoring unreadable snapshot ${file}; starting empty`);
    return undefined;
  }
  return parsed.data;
}

export function writeSnapshot(file: string, snapshot: z.input<typeof snapshotSchema>): void {
  // Write then rename, so a crash mid-write leaves the previous snapshot intact.
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(snapshot));
  renameSync(tmp, file);
}
