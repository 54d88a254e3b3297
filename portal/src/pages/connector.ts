// Tenant administration → Connectors and tokens → TeamViewer Connector: status, the
// license agreement with an explicit accept, the TeamViewer sign-in round trip (which
// comes back here with ?result=), verify and disconnect.
import { problemBox } from "../api.js";
import type { PageContext } from "../context.js";
import { details, h, mount, progress, time, whileBusy } from "../dom.js";
import type { ConnectResult, Connector, VerifyResult } from "../types.js";

const statusText = { notOnboarded: "Not connected", onboarding: "Connecting (waiting for TeamViewer sign-in)", onboarded: "Connected" } as const;
const healthText = {
  healthy: "Healthy",
  reauthorizationRequired: "Sign in to TeamViewer again: the authorization has expired or was revoked",
  unreachable: "TeamViewer could not be reached",
} as const;

const returnMessages: Record<string, string> = {
  pending: "You signed in at TeamViewer. The connector is finishing the connection…",
  denied: "TeamViewer access was declined, so the connector was not connected.",
  failed: "The TeamViewer sign-in could not be completed. See the last error below and try again.",
};

export async function connectorPage(ctx: PageContext): Promise<void> {
  const { api, perms } = ctx.app;
  const notice = h("div", { id: "connector-notice", "aria-live": "polite" });
  const body = h("div", null, progress("Loading the connector"));
  mount(
    ctx.root,
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, "Tenant administration › Connectors and tokens › TeamViewer Connector"),
    h("h1", null, "TeamViewer connector"),
    notice,
    body,
  );

  const result = ctx.query.get("result");
  if (result && returnMessages[result]) {
    mount(notice, h("p", { class: result === "pending" ? "info" : "warning", id: "sign-in-result" }, returnMessages[result]));
  }

  const load = async (): Promise<Connector | undefined> => {
    try {
      const c = await api.get<Connector>("/connector");
      render(c);
      // "Finishing the connection…" is over once the connector says how it ended.
      if (result === "pending" && c.onboardingStatus !== "onboarding") notice.querySelector("#sign-in-result")?.remove();
      return c;
    } catch (e) {
      mount(body, problemBox(e));
      return undefined;
    }
  };

  /** After the sign-in returns (or a disconnect), the worker finishes asynchronously: follow it. */
  const follow = async (until: (c: Connector) => boolean, label: string): Promise<void> => {
    const waiting = progress(label);
    notice.append(waiting);
    const deadline = Date.now() + 60_000;
    while (!ctx.left() && Date.now() < deadline) {
      const c = await load();
      if (!c || until(c)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    waiting.remove();
  };

  const render = (c: Connector): void => {
    const status = h("span", { class: `status status-${c.onboardingStatus}`, id: "connector-status" }, statusText[c.onboardingStatus]);
    const rows = details(
      [
        ["Status", status],
        ["Health", c.health ? healthText[c.health] : null],
        ["TeamViewer account", c.account ? `${c.account.name}${c.account.email ? ` (${c.account.email})` : ""}` : null],
        c.account?.companyName ? ["Company", c.account.companyName] : null,
        ["Connected since", time(c.onboardedAt)],
        ["Last connection", time(c.lastConnectionDateTime)],
        c.onboardingRequestExpiryDateTime ? ["Sign-in request expires", time(c.onboardingRequestExpiryDateTime)] : null,
        c.licenseAgreement
          ? [
              "License agreement",
              h(
                "span",
                null,
                `Accepted by ${c.licenseAgreement.acceptedBy.displayName} on `,
                time(c.licenseAgreement.acceptedAt),
                ` (version ${c.licenseAgreement.version})`,
              ),
            ]
          : null,
        c.lastError ? ["Last error", h("span", { class: "error-text" }, `${c.lastError.message} (`, time(c.lastError.at), ")")] : null,
      ],
      { id: "connector-details" },
    );

    const actions = h("div", { class: "section" });
    if (c.onboardingStatus !== "onboarded" && perms.update) actions.append(connectSection(c));
    if (c.onboardingStatus !== "onboarded" && !perms.update) {
      actions.append(h("p", { class: "muted" }, "Connecting TeamViewer needs the Update Remote Assistance permission."));
    }
    if (c.onboardingStatus === "onboarded") actions.append(onboardedActions());
    mount(body, rows, actions);
  };

  const connectSection = (c: Connector): HTMLElement => {
    const out = h("div", { "aria-live": "polite" });
    const accept = h("input", { type: "checkbox", id: "accept-license", name: "acceptLicense" });
    const button = h("button", { type: "submit", class: "primary", id: "authorize", disabled: true }, "Log in to TeamViewer to authorize");
    accept.addEventListener("change", () => (button.disabled = !accept.checked));
    const form = h(
      "form",
      { "aria-labelledby": "license-heading" },
      h("h2", { id: "license-heading" }, "License agreement"),
      h(
        "div",
        { class: "license-text", id: "license-text", tabindex: "0", role: "region", "aria-label": "License agreement text" },
        c.consent?.text ?? "By connecting TeamViewer you agree to the TeamViewer license agreement.",
      ),
      c.consent ? h("p", { class: "muted" }, `Version ${c.consent.version}`) : null,
      h(
        "p",
        { class: "checkbox" },
        accept,
        h(
          "label",
          { for: "accept-license" },
          "I accept the license agreement and allow the connector to create TeamViewer sessions, read device and user names, and keep the TeamViewer access token.",
        ),
      ),
      h("div", { class: "actions" }, button),
      out,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      mount(out);
      void whileBusy(button, "Starting TeamViewer sign-in", async () => {
        try {
          const r = await api.post<ConnectResult>("/connector/connect", { acceptLicenseAgreement: true });
          mount(out, progress("Opening the TeamViewer sign-in page"));
          // A full-page redirect: TeamViewer sends the browser back to this page afterwards.
          window.location.assign(r.authorizeUrl);
        } catch (e) {
          mount(out, problemBox(e));
        }
      });
    });
    return form;
  };

  const onboardedActions = (): HTMLElement => {
    const out = h("div", { id: "connector-action-result", "aria-live": "polite" });
    const verify = h("button", { type: "button", id: "verify" }, "Verify connection");
    verify.addEventListener("click", () => {
      mount(out);
      void whileBusy(verify, "Checking TeamViewer", async () => {
        try {
          const r = await api.post<VerifyResult>("/connector/verify");
          mount(
            out,
            h(
              "p",
              { class: r.health === "healthy" ? "success" : "warning", role: "status" },
              `${healthText[r.health]}. ${r.detail} (checked `,
              time(r.checkedAt),
              ")",
            ),
          );
        } catch (e) {
          mount(out, problemBox(e));
        }
      });
    });
    const group = h("div", { class: "actions" }, verify);
    if (perms.update) {
      const disconnect = h("button", { type: "button", id: "disconnect", class: "danger" }, "Disconnect");
      disconnect.addEventListener("click", () => {
        const yes = h("button", { type: "button", class: "danger", id: "confirm-disconnect" }, "Yes, disconnect");
        const no = h("button", { type: "button", id: "cancel-disconnect" }, "Cancel");
        mount(
          out,
          h(
            "div",
            { class: "confirm", role: "group", "aria-labelledby": "confirm-text" },
            h("p", { id: "confirm-text" }, "Disconnect TeamViewer? The token is revoked and deleted, and open sessions are closed."),
            h("div", { class: "actions" }, yes, no),
          ),
        );
        yes.focus();
        no.addEventListener("click", () => {
          mount(out);
          disconnect.focus();
        });
        yes.addEventListener("click", () => {
          void whileBusy(yes, "Disconnecting", async () => {
            try {
              await api.post("/connector/disconnect");
              mount(out);
              await follow((c) => c.onboardingStatus === "notOnboarded", "Disconnecting: revoking the token and closing open sessions");
            } catch (e) {
              mount(out, problemBox(e));
            }
          });
        });
      });
      group.append(disconnect);
    }
    return h("div", null, h("h2", null, "Actions"), group, out);
  };

  const first = await load();
  if (first && result === "pending" && first.onboardingStatus !== "onboarded") {
    await follow((c) => c.onboardingStatus !== "onboarding", "Waiting for the connector to finish onboarding");
  }
}
