// What tests set through the TeamViewer fake's control API and the fake applies to every
// Web API call: its clock, the variants, injected faults, latency and throttling; and the
// call log they read back.
import type { ServerResponse } from "node:http";
import { send, sendJson, sendOAuthError } from "../http.js";
import { defaultVariants, type CallRecord, type Fault, type Latency, type Throttle, type Variants } from "./control.js";
import type { TeamViewerFakeState } from "./fakeState.js";
import { apiPrefix, bearerToken, type Context } from "./fakeRequest.js";

const maxCallRecords = 10_000;

/** The fake's time: real time plus whatever tests advanced it by (codes, tokens, sessions expire). */
export class FakeClock {
  #offsetMs = 0;
  readonly now = (): number => Date.now() + this.#offsetMs;
  advance(ms: number): void {
    this.#offsetMs += ms;
  }
  reset(): void {
    this.#offsetMs = 0;
  }
}

type ThrottleRule = Omit<Throttle, "ms">;

export class FakeConditions {
  readonly clock: FakeClock;
  readonly #state: TeamViewerFakeState;
  readonly #log: (line: string) => void;
  #variants: Variants = { ...defaultVariants };
  #faults: Fault[] = [];
  #latencies: Latency[] = [];
  #throttle: { readonly until: number; readonly rule: ThrottleRule } | undefined;
  #calls: CallRecord[] = [];
  // Pending latency waits end when the fake closes, so nothing outlives it.
  readonly #closing = new AbortController();

  constructor(init: { clock: FakeClock; state: TeamViewerFakeState; log: (line: string) => void }) {
    this.clock = init.clock;
    this.#state = init.state;
    this.#log = init.log;
  }

  get variants(): Variants {
    return this.#variants;
  }

  setVariants(patch: Partial<Variants>): Variants {
    this.#variants = { ...this.#variants, ...patch };
    return this.#variants;
  }

  get faults(): readonly Fault[] {
    return this.#faults;
  }

  addFault(fault: Fault): void {
    this.#faults.push(fault);
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Replaces the rule for the same method and path; ms 0 only removes it. */
  setLatency(rule: Latency): void {
    this.#latencies = this.#latencies.filter(
      (l) => !(l.method.toUpperCase() === rule.method.toUpperCase() && l.path.toLowerCase() === rule.path.toLowerCase()),
    );
    if (rule.ms > 0) this.#latencies.push(rule);
  }

  clearLatency(): void {
    this.#latencies = [];
  }

  /** Throttles for `ms` from now (real time, not the fake's clock); ms 0 ends it. */
  setThrottle({ ms, ...rule }: Throttle): void {
    this.#throttle = ms > 0 ? { until: Date.now() + ms, rule } : undefined;
  }

  get calls(): readonly CallRecord[] {
    return this.#calls;
  }

  clearCalls(): void {
    this.#calls = [];
  }

  /** Real time and defaults again, no faults, latency, throttling or calls. */
  reset(): void {
    this.clock.reset();
    this.#variants = { ...defaultVariants };
    this.#faults = [];
    this.#latencies = [];
    this.#throttle = undefined;
    this.#calls = [];
  }

  close(): void {
    this.#closing.abort();
  }

  async delay(ctx: Context): Promise<void> {
    const ms = Math.max(0, ...this.#latencies.filter((l) => matches(l, ctx)).map((l) => l.ms));
    if (ms === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#closing.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  /** Answers with the first matching fault (used up after its count); false when none matches. */
  applyFault(ctx: Context, res: ServerResponse): boolean {
    const fault = this.#faults.find((f) => matches(f, ctx));
    if (!fault) return false;
    fault.count -= 1;
    if (fault.count <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
    ctx.fault = true;
    this.#identifyCaller(ctx);
    if (fault.rawBody !== undefined) {
      send(res, fault.status, fault.rawBody, { "content-type": "application/json; charset=utf-8", ...fault.headers });
    } else if (fault.body !== undefined) {
      sendJson(res, fault.status, fault.body, fault.headers);
    } else {
      send(res, fault.status, undefined, fault.headers);
    }
    return true;
  }

  /** Answers rate_limit_reached while a matching throttle lasts; false otherwise. */
  applyThrottle(ctx: Context, res: ServerResponse): boolean {
    const t = this.#throttle;
    if (!t) return false;
    const now = Date.now();
    if (t.until <= now) {
      this.#throttle = undefined;
      return false;
    }
    if (!matches(t.rule, ctx)) return false;
    ctx.fault = true;
    this.#identifyCaller(ctx);
    const seconds = Math.max(1, Math.ceil((t.until - now) / 1000));
    sendOAuthError(
      res,
      t.rule.status,
      "rate_limit_reached",
      "Rate limit reached. Try again later.",
      t.rule.retryAfter ? { "retry-after": String(seconds) } : {},
    );
    return true;
  }

  record(ctx: Context, res: ServerResponse, started: number): void {
    const oauth = ctx.route.startsWith("/oauth2/") || ctx.route.startsWith(`${apiPrefix}/oauth2/`);
    const query = ctx.query.toString();
    const record: CallRecord = {
      method: ctx.method,
      path: ctx.path,
      // The sign-in's query carries the OAuth state, which is a credential.
      ...(query !== "" && !oauth ? { query } : {}),
      status: res.statusCode,
      at: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      ...(ctx.tokenId !== undefined ? { tokenId: ctx.tokenId } : {}),
      ...(ctx.grantId !== undefined ? { grantId: ctx.grantId } : {}),
      ...(res.writableFinished ? {} : { aborted: true }),
      ...(ctx.fault ? { fault: true } : {}),
    };
    this.#calls.push(record);
    if (this.#calls.length > maxCallRecords) this.#calls.splice(0, this.#calls.length - maxCallRecords);
    this.#log(
      `${record.method} ${record.path} → ${record.aborted ? "aborted" : record.status} ${record.durationMs} ms` +
        `${record.tokenId ? ` token=${record.tokenId}` : ""}${record.fault ? " (injected)" : ""}`,
    );
  }

  /** Who called, for the call log, when the answer is not the route's own (faults, throttling). */
  #identifyCaller(ctx: Context): void {
    const token = bearerToken(ctx.authorization);
    if (token === undefined) return;
    const check = this.#state.checkBearer(token);
    ctx.tokenId = check.tokenId;
    ctx.grantId = check.grantId;
  }
}

function matches(rule: { method: string; path: string }, ctx: Context): boolean {
  if (rule.method !== "*" && rule.method.toUpperCase() !== ctx.method) return false;
  const prefix = rule.path.toLowerCase().replace(/\/+$/, "");
  return prefix === "" || ctx.route === prefix || ctx.route.startsWith(`${prefix}/`);
}
