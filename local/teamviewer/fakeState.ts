// What the TeamViewer fake remembers: OAuth codes and tokens (kept only as SHA-256
// hashes), groups, sessions and the account; optionally snapshotted to dataDir as JSON
// (stateSnapshot.ts).
import { createHash, randomBytes, randomInt } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { accountSchema, defaultAccount, type FakeAccount, type FakeSession } from "./control.js";
import {
  readSnapshot,
  writeSnapshot,
  type AccessTokenRecord,
  type CodeRecord,
  type ConnectionRecord,
  type GroupRecord,
  type RefreshTokenRecord,
  type SessionRecord,
} from "./stateSnapshot.js";

export const codeLifetimeMs = 10 * 60 * 1000;
export const defaultSessionLifetimeMs = 24 * 60 * 60 * 1000;

export interface IssuedTokens {
  readonly access_token: string;
  readonly token_type: "bearer";
  readonly expires_in: number;
  readonly refresh_token: string;
}

export type GrantResult =
  { readonly ok: true; readonly tokens: IssuedTokens } | { readonly ok: false; readonly error: "invalid_grant"; readonly description: string };

export type BearerCheck =
  | { readonly kind: "valid"; readonly tokenId: string; readonly grantId?: string }
  | { readonly kind: "expired"; readonly tokenId: string; readonly grantId?: string }
  | { readonly kind: "invalid"; readonly tokenId?: string; readonly grantId?: string };

export interface NewSession {
  readonly groupid: string;
  readonly description?: string;
  readonly endCustomer?: { name?: string; email?: string };
  readonly assignedUserId?: string;
  readonly customApi?: string;
  readonly waitingMessage?: string;
  readonly supportSessionType?: string;
  readonly validUntil?: number;
}

export interface SessionUpdate {
  readonly close?: boolean;
  readonly description?: string;
  readonly endCustomer?: { name?: string; email?: string };
  readonly assignedUserId?: string;
  readonly customApi?: string;
  readonly validUntil?: number;
}

export interface SessionFilter {
  readonly groupid?: string;
  readonly assignedUserId?: string;
  readonly states?: readonly ("open" | "closed")[];
}

const hash = (secret: string): string => createHash("sha256").update(secret).digest("hex");
const newSecret = (): string => randomBytes(32).toString("base64url");
/** TeamViewer's time format: UTC, whole seconds. */
export const formatTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

const saveDelayMs = 50;

export class TeamViewerFakeState {
  readonly #file?: string;
  readonly #now: () => number;
  #seq = 0;
  #account: FakeAccount = { ...defaultAccount };
  #accessTokens = new Map<string, AccessTokenRecord>(); // by hash
  #refreshTokens = new Map<string, RefreshTokenRecord>(); // by hash
  #codes = new Map<string, CodeRecord>(); // by hash
  #groups: GroupRecord[] = [];
  #sessions: SessionRecord[] = [];
  #connections: ConnectionRecord[] = [];
  /** A snapshot write is due (changes are written together, at most every `saveDelayMs`). */
  #saveTimer: NodeJS.Timeout | undefined;

  constructor(options: { dataDir?: string; now?: () => number; log: (line: string) => void }) {
    this.#now = options.now ?? Date.now;
    if (options.dataDir !== undefined) {
      mkdirSync(options.dataDir, { recursive: true });
      this.#file = join(options.dataDir, "state.json");
      this.#load(options.log);
    }
  }

  // ------------------------------------------------------------------ OAuth

  issueCode(clientId: string, redirectUri: string): string {
    const code = newSecret();
    this.#codes.set(hash(code), { hash: hash(code), clientId, redirectUri, expiresAt: this.#now() + codeLifetimeMs, used: false, accessIds: [] });
    this.#save();
    return code;
  }

  exchangeCode(code: string, clientId: string, redirectUri: string, expiresIn: number): GrantResult {
    const record = this.#codes.get(hash(code));
    if (!record || record.clientId !== clientId) return { ok: false, error: "invalid_grant", description: "The authorization code is unknown." };
    if (record.used) {
      // A code presented twice may have been stolen: what it bought is withdrawn (RFC 6749 §4.1.2).
      for (const id of record.accessIds) this.#revokeById(id);
      this.#save();
      return { ok: false, error: "invalid_grant", description: "The authorization code was already used." };
    }
    if (record.expiresAt <= this.#now()) return { ok: false, error: "invalid_grant", description: "The authorization code has expired." };
    if (record.redirectUri !== redirectUri)
      return { ok: false, error: "invalid_grant", description: "The redirect_uri does not match the authorization request." };
    record.used = true;
    const { tokens, accessId } = this.#issueTokens(clientId, expiresIn, `a${++this.#seq}`);
    record.accessIds.push(accessId);
    this.#save();
    return { ok: true, tokens };
  }

  refresh(refreshToken: string, clientId: string, expiresIn: number): GrantResult {
    const record = this.#refreshTokens.get(hash(refreshToken));
    if (!record || record.clientId !== clientId || record.spent) {
      return { ok: false, error: "invalid_grant", description: "The refresh token is invalid, spent or revoked." };
    }
    // Rotation: the presented refresh token stops working at once.
    record.spent = true;
    const grantId = [...this.#accessTokens.values()].find((t) => t.id === record.accessId)?.grantId;
    const { tokens } = this.#issueTokens(clientId, expiresIn, grantId);
    this.#save();
    return { ok: true, tokens };
  }

  checkBearer(token: string): BearerCheck {
    const record = this.#accessTokens.get(hash(token));
    if (!record) return { kind: "invalid" };
    const ids = { tokenId: record.id, ...(record.grantId === undefined ? {} : { grantId: record.grantId }) };
    if (record.revoked) return { kind: "invalid", ...ids };
    if (record.expiresAt <= this.#now()) return { kind: "expired", ...ids };
    return { kind: "valid", ...ids };
  }

  /** Revokes an access token and the refresh token issued with it. */
  revoke(tokenId: string): void {
    this.#revokeById(tokenId);
    this.#save();
  }

  expireAllTokens(): void {
    const now = this.#now();
    for (const t of this.#accessTokens.values()) t.expiresAt = Math.min(t.expiresAt, now);
    this.#save();
  }

  #issueTokens(clientId: string, expiresIn: number, grantId: string | undefined): { tokens: IssuedTokens; accessId: string } {
    const access = newSecret();
    const refresh = newSecret();
    const accessId = `t${++this.#seq}`;
    const refreshId = `r${++this.#seq}`;
    this.#accessTokens.set(hash(access), {
      id: accessId,
      hash: hash(access),
      clientId,
      expiresAt: this.#now() + expiresIn * 1000,
      revoked: false,
      refreshId,
      ...(grantId === undefined ? {} : { grantId }),
    });
    this.#refreshTokens.set(hash(refresh), { id: refreshId, hash: hash(refresh), clientId, accessId, spent: false });
    return { tokens: { access_token: access, token_type: "bearer", expires_in: expiresIn, refresh_token: refresh }, accessId };
  }

  #revokeById(accessId: string): void {
    for (const t of this.#accessTokens.values()) {
      if (t.id !== accessId) continue;
      t.revoked = true;
      for (const r of this.#refreshTokens.values()) if (r.id === t.refreshId) r.spent = true;
    }
  }

  // ------------------------------------------------------------------ account, groups

  get account(): FakeAccount {
    return { ...this.#account };
  }

  setAccount(patch: Partial<FakeAccount>): FakeAccount {
    this.#account = accountSchema.parse({ ...this.#account, ...patch });
    this.#save();
    return this.account;
  }

  get groups(): readonly GroupRecord[] {
    return this.#groups.map((g) => ({ ...g }));
  }

  findGroup(id: string): GroupRecord | undefined {
    return this.#groups.find((g) => g.id === id);
  }

  /** TeamViewer's `groupname`: the group of that name, created when missing. */
  groupNamed(name: string, create: boolean): GroupRecord | undefined {
    const existing = this.#groups.find((g) => g.name.toLowerCase() === name.toLowerCase());
    if (existing || !create) return existing;
    const group = { id: `g${10_000_000 + ++this.#seq}`, name };
    this.#groups.push(group);
    this.#save();
    return group;
  }

  // ------------------------------------------------------------------ sessions

  createSession(s: NewSession): string {
    const now = this.#now();
    let code: string;
    do {
      code = `s${randomInt(10, 100)}-${randomInt(100, 1000)}-${randomInt(100, 1000)}`;
    } while (this.#sessions.some((x) => x.code === code));
    this.#sessions.push({
      seq: ++this.#seq,
      code,
      closed: false,
      groupid: s.groupid,
      description: s.description,
      endCustomer: s.endCustomer,
      assignedUserId: s.assignedUserId,
      customApi: s.customApi,
      waitingMessage: s.waitingMessage,
      supportSessionType: s.supportSessionType ?? "Default",
      // TeamViewer's times have whole seconds.
      createdAt: Math.floor(now / 1000) * 1000,
      validUntil: Math.floor((s.validUntil ?? now + defaultSessionLifetimeMs) / 1000) * 1000,
    });
    this.#save();
    return code;
  }

  /** Updates a session; false when there is none with that code. */
  updateSession(code: string, update: SessionUpdate): boolean {
    const s = this.#sessions.find((x) => x.code === code.toLowerCase());
    if (!s) return false;
    if (update.description !== undefined) s.description = update.description;
    if (update.endCustomer !== undefined) s.endCustomer = update.endCustomer;
    if (update.assignedUserId !== undefined) s.assignedUserId = update.assignedUserId;
    if (update.customApi !== undefined) s.customApi = update.customApi;
    if (update.validUntil !== undefined) s.validUntil = Math.floor(update.validUntil / 1000) * 1000;
    // Closing is idempotent: the first closed_at stands.
    if (update.close && !this.#isClosed(s)) {
      s.closed = true;
      s.closedAt = Math.floor(this.#now() / 1000) * 1000;
    }
    this.#save();
    return true;
  }

  session(code: string, baseUrl: string): FakeSession | undefined {
    const s = this.#sessions.find((x) => x.code === code.toLowerCase());
    return s && this.#view(s, baseUrl);
  }

  /** Newest first. */
  sessions(filter: SessionFilter, baseUrl: string): FakeSession[] {
    return [...this.#sessions]
      .sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq)
      .map((s) => this.#view(s, baseUrl))
      .filter(
        (s) =>
          (filter.groupid === undefined || s.groupid === filter.groupid) &&
          (filter.assignedUserId === undefined || s.assigned_userid === filter.assignedUserId) &&
          (filter.states === undefined || filter.states.includes(s.state)),
      );
  }

  #isClosed(s: SessionRecord): boolean {
    return s.closed || s.validUntil <= this.#now();
  }

  #view(s: SessionRecord, baseUrl: string): FakeSession {
    // A session past valid_until counts as closed then, without anyone closing it.
    const closedAt = s.closed ? s.closedAt : s.validUntil <= this.#now() ? s.validUntil : undefined;
    const compact = s.code.replace(/-/g, "");
    return {
      code: s.code,
      state: this.#isClosed(s) ? "closed" : "open",
      groupid: s.groupid,
      description: s.description,
      end_customer: s.endCustomer,
      assigned_userid: s.assignedUserId,
      custom_api: s.customApi,
      waiting_message: s.waitingMessage,
      support_session_type: s.supportSessionType,
      created_at: formatTime(s.createdAt),
      valid_until: formatTime(s.validUntil),
      closed_at: closedAt === undefined ? undefined : formatTime(closedAt),
      online: false,
      // The links lead to small pages on the fake itself, so clicking them locally is harmless.
      supporter_link: `${baseUrl}/s/${compact}/supporter`,
      end_customer_link: `${baseUrl}/s/${compact}`,
      webclient_supporter_link: `${baseUrl}/s/${compact}/webclient`,
    };
  }

  // ------------------------------------------------------------------ connections (reports)

  /** Adds a connection, or replaces the one with the same id (e.g. to end it). */
  putConnection(c: ConnectionRecord): ConnectionRecord {
    const record = { ...c };
    const i = this.#connections.findIndex((x) => x.id === c.id);
    if (i >= 0) this.#connections[i] = record;
    else this.#connections.push(record);
    this.#save();
    return { ...record };
  }

  /** Oldest start first, then by id: the order the report pages in. */
  get connections(): ConnectionRecord[] {
    return [...this.#connections].sort((a, b) => a.startDate - b.startDate || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((c) => ({ ...c }));
  }

  // ------------------------------------------------------------------ lifecycle

  reset(): void {
    this.#seq = 0;
    this.#account = { ...defaultAccount };
    this.#accessTokens.clear();
    this.#refreshTokens.clear();
    this.#codes.clear();
    this.#groups = [];
    this.#sessions = [];
    this.#connections = [];
    this.#save();
  }

  #load(log: (line: string) => void): void {
    if (!this.#file) return;
    const s = readSnapshot(this.#file, log);
    if (!s) return;
    this.#seq = s.seq;
    this.#account = s.account;
    this.#accessTokens = new Map(s.accessTokens.map((t) => [t.hash, t]));
    this.#refreshTokens = new Map(s.refreshTokens.map((t) => [t.hash, t]));
    this.#codes = new Map(s.codes.map((c) => [c.hash, c]));
    this.#groups = s.groups;
    this.#sessions = s.sessions;
    this.#connections = s.connections;
    log(`loaded ${s.sessions.length} session(s), ${s.groups.length} group(s), ${s.accessTokens.length} token(s) from ${this.#file}`);
  }

  /**
   * Changes are written to the snapshot together, `saveDelayMs` after the first of them:
   * writing the whole state on every change made the fake's own disk writes the biggest
   * CPU cost of a session benchmark (each create rewrote every session so far). `close`
   * (the server's) writes what is pending; a killed process loses at most that moment.
   */
  #save(): void {
    if (!this.#file || this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => this.flush(), saveDelayMs);
    this.#saveTimer.unref();
  }

  /** Writes pending changes now. */
  flush(): void {
    if (!this.#saveTimer) return;
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    if (!this.#file) return;
    const now = this.#now();
    // Spent and expired codes are no use to anyone after a restart.
    for (const [k, c] of this.#codes) if (c.expiresAt <= now) this.#codes.delete(k);
    writeSnapshot(this.#file, {
      version: 1,
      seq: this.#seq,
      account: this.#account,
      accessTokens: [...this.#accessTokens.values()],
      refreshTokens: [...this.#refreshTokens.values()],
      codes: [...this.#codes.values()],
      groups: this.#groups,
      sessions: this.#sessions,
      connections: this.#connections,
    });
  }
}
