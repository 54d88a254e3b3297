// A local fake of the TeamViewer Web API subset in docs/teamviewer.md (OAuth sign-in page
// included) on node:http, with a /_control/ API that lets tests inject faults and variants.
// This file wires the parts: oauthPages.ts (sign-in), apiRoutes.ts and oauthTokens.ts
// (/api/v1), controlRoutes.ts (/_control), conditions.ts (faults, latency, call log).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { BodyTooLarge, closeServer, readBody, sendJson, sendOAuthError } from "../http.js";
import { isLoopbackHost, listen, urlHost } from "../loopback.js";
import { WebApi } from "./apiRoutes.js";
import { FakeClock, FakeConditions } from "./conditions.js";
import { TeamViewerFakeControl } from "./control.js";
import { ControlApi } from "./controlRoutes.js";
import { TeamViewerFakeState } from "./fakeState.js";
import { apiPrefix, HttpFailure, notFound, sendHtml, type Context } from "./fakeRequest.js";
import { OAuthPages } from "./oauthPages.js";
import { OAuthTokens } from "./oauthTokens.js";
import { errorPage, indexPage, sessionLinkPage } from "./pages.js";

export interface TeamViewerFakeOptions {
  /** Default 7072; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1; loopback only, since the control API has no authentication. */
  readonly host?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Keeps tokens (hashed), groups and sessions across restarts. */
  readonly dataDir?: string;
  readonly log?: (line: string) => void;
}

export interface TeamViewerFake {
  readonly port: number;
  /** http://127.0.0.1:<port>: the sign-in page's base (TEAMVIEWER_LOGIN_BASE_URL). */
  readonly url: string;
  /** url + "/api/v1" (TEAMVIEWER_API_BASE_URL). */
  readonly apiBaseUrl: string;
  readonly control: TeamViewerFakeControl;
  close(): Promise<void>;
}

export const defaultTeamViewerFakePort = 7072;
const maxBodyBytes = 1024 * 1024;

export async function startTeamViewerFake(options: TeamViewerFakeOptions = {}): Promise<TeamViewerFake> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host)) {
    throw new Error(`The TeamViewer fake only listens on loopback (its control API has no authentication); "${host}" is not loopback.`);
  }
  const log = options.log ?? (() => undefined);
  const clock = new FakeClock();
  const state = new TeamViewerFakeState({ dataDir: options.dataDir, now: clock.now, log });
  const conditions = new FakeConditions({ clock, state, log });
  let url = "";
  const origin = (): string => url;
  const clientId = options.clientId ?? "local-client-id";
  const tokens = new OAuthTokens({ clientId, clientSecret: options.clientSecret ?? "local-client-secret", state, conditions });
  const routes: Routes = {
    state,
    conditions,
    origin,
    log,
    pages: new OAuthPages(clientId, state),
    api: new WebApi({ state, conditions, tokens, origin }),
    control: new ControlApi({ state, conditions, origin }),
  };
  const server = createServer((req, res) => void handle(routes, req, res));
  const port = await listen(server, options.port ?? defaultTeamViewerFakePort, host);
  url = `http://${urlHost(host)}:${port}`;
  return {
    port,
    url,
    apiBaseUrl: `${url}${apiPrefix}`,
    control: new TeamViewerFakeControl(url),
    close: () => {
      conditions.close();
      // After the last request: what it changed is written too.
      return closeServer(server).finally(() => state.flush());
    },
  };
}

interface Routes {
  readonly state: TeamViewerFakeState;
  readonly conditions: FakeConditions;
  readonly origin: () => string;
  readonly log: (line: string) => void;
  readonly pages: OAuthPages;
  readonly api: WebApi;
  readonly control: ControlApi;
}

async function handle(routes: Routes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  let ctx: Context | undefined;
  try {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const body = await readBody(req, maxBodyBytes).catch((e: unknown) => {
      throw e instanceof BodyTooLarge ? new HttpFailure(413, "The request body is too large.") : e;
    });
    ctx = {
      method: (req.method ?? "GET").toUpperCase(),
      path: url.pathname,
      route: url.pathname.toLowerCase().replace(/\/+$/, "") || "/",
      query: url.searchParams,
      body,
      contentType: (req.headers["content-type"] ?? "").toLowerCase(),
      authorization: req.headers.authorization,
    };
    if (ctx.route === "/_control" || ctx.route.startsWith("/_control/")) {
      routes.control.route(ctx, res);
      return;
    }
    const call = ctx;
    res.once("close", () => routes.conditions.record(call, res, started));
    await routes.conditions.delay(ctx);
    if (res.destroyed) return;
    if (routes.conditions.applyFault(ctx, res)) return;
    if (routes.conditions.applyThrottle(ctx, res)) return;
    route(routes, ctx, res);
  } catch (e) {
    if (res.headersSent || res.destroyed) return;
    if (e instanceof HttpFailure) return sendOAuthError(res, e.status, "invalid_request", e.message);
    routes.log(`internal error on ${ctx?.method ?? "?"} ${ctx?.path ?? "?"}: ${e instanceof Error ? e.message : String(e)}`);
    sendJson(res, 500, { error: "internal_error", error_description: "The fake failed; see its log." });
  }
}

function route(routes: Routes, ctx: Context, res: ServerResponse): void {
  const r = ctx.route;
  if (r === "/" && ctx.method === "GET") return sendHtml(res, 200, indexPage(`${routes.origin()}${apiPrefix}`));
  if (r === "/oauth2/authorize") return routes.pages.route(ctx, res);
  const link = /^\/s\/(s\d{8})(?:\/(supporter|webclient))?$/.exec(r);
  if (link && ctx.method === "GET") return sessionLink(routes, res, link[1], link[2]);
  if (!r.startsWith(`${apiPrefix}/`)) return notFound(res);
  routes.api.route(ctx, res, r.slice(apiPrefix.length));
}

/** The small page behind a session's links, so clicking one locally is harmless. */
function sessionLink(routes: Routes, res: ServerResponse, compact: string, role: string | undefined): void {
  const code = `${compact.slice(0, 3)}-${compact.slice(3, 6)}-${compact.slice(6)}`;
  if (!routes.state.session(code, routes.origin())) return sendHtml(res, 404, errorPage("Unknown session", "There is no session behind this link."));
  sendHtml(res, 200, sessionLinkPage(code, role === "supporter" ? "supporter" : role === "webclient" ? "web client supporter" : "end customer"));
}
