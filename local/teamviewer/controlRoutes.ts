// The TeamViewer fake's control API (/_control/…), which tests call to inject faults, latency
// and throttling, change the variants, account and clock, add connections and read the call
// log. Its schemas and the typed client for it are in control.ts.
import type { ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { send, sendJson } from "../http.js";
import type { FakeConditions } from "./conditions.js";
import { accountSchema, clockSchema, connectionInputSchema, faultSchema, latencySchema, throttleSchema, variantsSchema } from "./control.js";
import { formatTime, type TeamViewerFakeState } from "./fakeState.js";
import type { ConnectionRecord } from "./stateSnapshot.js";
import { notFound, parseJsonBody, type Context, type Json } from "./fakeRequest.js";

export class ControlApi {
  readonly #state: TeamViewerFakeState;
  readonly #conditions: FakeConditions;
  readonly #origin: () => string;

  constructor(init: { state: TeamViewerFakeState; conditions: FakeConditions; origin: () => string }) {
    this.#state = init.state;
    this.#conditions = init.conditions;
    this.#origin = init.origin;
  }

  route(ctx: Context, res: ServerResponse): void {
    const r = ctx.route.slice("/_control".length);
    const m = ctx.method;
    const conditions = this.#conditions;
    switch (`${m} ${r}`) {
      case "POST /faults":
        conditions.addFault(parseJsonBody(ctx, faultSchema));
        return send(res, 204);
      case "GET /faults":
        return sendJson(res, 200, { faults: conditions.faults });
      case "DELETE /faults":
        conditions.clearFaults();
        return send(res, 204);
      case "POST /latency":
        conditions.setLatency(parseJsonBody(ctx, latencySchema));
        return send(res, 204);
      case "POST /throttle":
        conditions.setThrottle(parseJsonBody(ctx, throttleSchema));
        return send(res, 204);
      case "DELETE /latency":
        conditions.clearLatency();
        return send(res, 204);
      case "POST /tokens/expire":
        this.#state.expireAllTokens();
        return send(res, 204);
      case "GET /account":
        return sendJson(res, 200, this.#state.account);
      case "PUT /account":
        return sendJson(res, 200, this.#state.setAccount(parseJsonBody(ctx, accountSchema.partial().strict())));
      case "GET /variants":
        return sendJson(res, 200, conditions.variants);
      case "PUT /variants":
        return sendJson(res, 200, conditions.setVariants(parseJsonBody(ctx, variantsSchema.partial().strict())));
      case "GET /calls":
        return sendJson(res, 200, { calls: conditions.calls });
      case "DELETE /calls":
        conditions.clearCalls();
        return send(res, 204);
      case "GET /sessions":
        return sendJson(res, 200, { sessions: this.#state.sessions({}, this.#origin()) });
      case "GET /groups":
        return sendJson(res, 200, { groups: this.#state.groups });
      case "POST /connections": {
        const c = parseJsonBody(ctx, connectionInputSchema);
        const stored = this.#state.putConnection({
          id: c.id ?? randomUUID(),
          userid: c.userid,
          username: c.username,
          sessionCode: c.session_code,
          // TeamViewer's times have whole seconds.
          startDate: Math.floor(Date.parse(c.start_date) / 1000) * 1000,
          ...(c.end_date === undefined ? {} : { endDate: Math.floor(Date.parse(c.end_date) / 1000) * 1000 }),
          ...(c.devicename === undefined ? {} : { devicename: c.devicename }),
        });
        return sendJson(res, 200, controlConnection(stored));
      }
      case "GET /connections":
        return sendJson(res, 200, { connections: this.#state.connections.map(controlConnection) });
      case "POST /clock": {
        const { advanceMs } = parseJsonBody(ctx, clockSchema);
        conditions.clock.advance(advanceMs);
        return sendJson(res, 200, { now: new Date(conditions.clock.now()).toISOString() });
      }
      case "POST /reset":
        // The clock first: the state's reset saves, dropping codes expired by then.
        conditions.reset();
        this.#state.reset();
        return send(res, 204);
      default:
        return notFound(res, `No control endpoint ${m} /_control${r}.`);
    }
  }
}

/** The control API's view: the code as it was told, times as TeamViewer writes them. */
function controlConnection(c: ConnectionRecord): Json {
  return {
    id: c.id,
    session_code: c.sessionCode,
    userid: c.userid,
    username: c.username,
    start_date: formatTime(c.startDate),
    ...(c.endDate === undefined ? {} : { end_date: formatTime(c.endDate) }),
    ...(c.devicename === undefined ? {} : { devicename: c.devicename }),
  };
}
