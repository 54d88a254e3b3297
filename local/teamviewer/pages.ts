// The TeamViewer fake's HTML: the OAuth sign-in (consent) page, its error page, and the
// pages behind session links. Plain forms, no JavaScript, every value escaped.
import { escapeHtml } from "../html.js";
import type { FakeAccount } from "./control.js";

/** What the app registration asks for (docs/teamviewer.md, "Scopes"), as the admin reads it. */
const requestedAccess: readonly [scope: string, meaning: string][] = [
  ["Sessions.Create", "Create service queue sessions"],
  ["Sessions.ReadAll", "Read all sessions"],
  ["Sessions.ModifyAll", "Modify and close all sessions"],
  ["Groups.Read", "Read groups"],
  ["Groups.Create", "Create groups"],
  ["Account.Read", "Read your account details"],
  ["Account.ReadEmail", "Read your email address"],
  ["ConnectionReports.Read", "Read connection reports"],
];

const layout = (title: string, body: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f3f5f8; color: #1b1f24; margin: 0; }
  main { max-width: 30rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.4rem; margin-top: 0; }
  .notice { font-size: .85rem; color: #555; border-left: 3px solid #0e6ee6; padding-left: .75rem; }
  ul { padding-left: 1.2rem; }
  code { background: #eef1f5; padding: 0 .25rem; border-radius: 3px; }
  .actions { display: flex; gap: 1rem; margin-top: 1.5rem; }
  button { font-size: 1rem; padding: .6rem 1.4rem; border-radius: 4px; border: 1px solid #0e6ee6; cursor: pointer; }
  button:focus-visible { outline: 3px solid #ffb000; outline-offset: 2px; }
  #allow { background: #0e6ee6; color: #fff; }
  #deny { background: #fff; color: #0e6ee6; }
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;

export interface ConsentPageInput {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state?: string;
  readonly display?: string;
  readonly account: FakeAccount;
}

export function consentPage(input: ConsentPageInput): string {
  const hidden = (name: string, value: string | undefined): string =>
    value === undefined ? "" : `  <input type="hidden" name="${name}" value="${escapeHtml(value)}">\n`;
  const who = input.account.email ? `${input.account.name} (${input.account.email})` : input.account.name;
  const scopes = requestedAccess.map(([scope, meaning]) => `    <li>${escapeHtml(meaning)} <code>${scope}</code></li>`).join("\n");
  return layout(
    "Sign in – TeamViewer (local fake)",
    `<h1 id="title">Allow access to your TeamViewer account?</h1>
<p class="notice">This is the local TeamViewer fake, not TeamViewer.</p>
<p>Signed in as <strong>${escapeHtml(who)}</strong>.</p>
<p>The application <code id="client-id">${escapeHtml(input.clientId)}</code> asks to:</p>
<section aria-labelledby="access-heading">
  <h2 id="access-heading" hidden>Requested access</h2>
  <ul id="requested-access">
${scopes}
  </ul>
</section>
<p>You will be returned to <code>${escapeHtml(new URL(input.redirectUri).origin)}</code>.</p>
<form method="post" action="/oauth2/authorize" aria-labelledby="title">
  <input type="hidden" name="response_type" value="code">
${hidden("client_id", input.clientId)}${hidden("redirect_uri", input.redirectUri)}${hidden("state", input.state)}${hidden("display", input.display)}  <div class="actions">
    <button type="submit" id="allow" name="decision" value="allow">Allow</button>
    <button type="submit" id="deny" name="decision" value="deny">Deny</button>
  </div>
</form>`,
  );
}

export function errorPage(title: string, detail: string): string {
  return layout(`${title} – TeamViewer (local fake)`, `<h1>${escapeHtml(title)}</h1>\n<p role="alert">${escapeHtml(detail)}</p>`);
}

export function sessionLinkPage(code: string, role: "end customer" | "supporter" | "web client supporter"): string {
  return layout(
    `Session ${code} – TeamViewer (local fake)`,
    `<h1>TeamViewer session ${escapeHtml(code)}</h1>
<p class="notice">This is the local TeamViewer fake. Real TeamViewer would now start the ${escapeHtml(role)} side of this session.</p>`,
  );
}

export function indexPage(apiBaseUrl: string): string {
  return layout(
    "TeamViewer (local fake)",
    `<h1>TeamViewer Web API (local fake)</h1>
<p>Web API: <code>${escapeHtml(apiBaseUrl)}</code></p>
<p>Sign-in: <code>GET /oauth2/authorize</code>. Test control: <code>/_control/…</code>.</p>`,
  );
}
