// The TeamViewer fake's sign-in, as the admin's browser sees it: GET /oauth2/authorize shows
// the consent page, POST /oauth2/authorize takes Allow or Deny and redirects back to the app
// with a code (or an error). A request that is not the app's gets an HTML page, never a redirect.
import type { ServerResponse } from "node:http";
import type { TeamViewerFakeState } from "./fakeState.js";
import { methodNotAllowed, redirect, sendHtml, type Context } from "./fakeRequest.js";
import { consentPage, errorPage } from "./pages.js";

export class OAuthPages {
  readonly #clientId: string;
  readonly #state: TeamViewerFakeState;

  constructor(clientId: string, state: TeamViewerFakeState) {
    this.#clientId = clientId;
    this.#state = state;
  }

  /** /oauth2/authorize */
  route(ctx: Context, res: ServerResponse): void {
    if (ctx.method === "GET") return this.#authorizePage(ctx, res);
    if (ctx.method === "POST") return this.#authorizeDecision(ctx, res);
    return methodNotAllowed(res, "GET, POST");
  }

  /** The checks both halves of the sign-in share; a failure is an HTML page, never a redirect. */
  #signInRequest(params: URLSearchParams, res: ServerResponse): { clientId: string; redirectUri: URL } | undefined {
    const clientId = params.get("client_id");
    if (clientId === null || clientId !== this.#clientId) {
      sendHtml(res, 400, errorPage("Unknown application", "The client_id of this sign-in request is not a registered TeamViewer application."));
      return undefined;
    }
    const redirectUri = parseRedirectUri(params.get("redirect_uri"));
    if (!redirectUri) {
      sendHtml(res, 400, errorPage("Invalid redirect", "The redirect_uri of this sign-in request is missing or is not an http(s) address."));
      return undefined;
    }
    return { clientId, redirectUri };
  }

  #authorizePage(ctx: Context, res: ServerResponse): void {
    const request = this.#signInRequest(ctx.query, res);
    if (!request) return;
    const state = ctx.query.get("state") ?? undefined;
    if (ctx.query.get("response_type") !== "code") {
      return redirect(res, request.redirectUri, { error: "unsupported_response_type", state });
    }
    sendHtml(
      res,
      200,
      consentPage({
        clientId: request.clientId,
        redirectUri: request.redirectUri.toString(),
        state,
        display: ctx.query.get("display") ?? undefined,
        account: this.#state.account,
      }),
    );
  }

  #authorizeDecision(ctx: Context, res: ServerResponse): void {
    if (!ctx.contentType.startsWith("application/x-www-form-urlencoded")) {
      return sendHtml(res, 400, errorPage("Bad request", "The sign-in form must be posted as application/x-www-form-urlencoded."));
    }
    const form = new URLSearchParams(ctx.body);
    const request = this.#signInRequest(form, res);
    if (!request) return;
    const state = form.get("state") ?? undefined;
    const decision = form.get("decision");
    if (decision === "deny") return redirect(res, request.redirectUri, { error: "access_denied", state });
    if (decision !== "allow") return sendHtml(res, 400, errorPage("Bad request", "Choose Allow or Deny."));
    const code = this.#state.issueCode(request.clientId, request.redirectUri.toString());
    redirect(res, request.redirectUri, { code, state });
  }
}

function parseRedirectUri(value: string | null): URL | undefined {
  if (value === null) return undefined;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hash === "" ? url : undefined;
  } catch {
    return undefined;
  }
}
