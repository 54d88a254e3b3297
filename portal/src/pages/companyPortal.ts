// The end user's Company Portal page: a flag with the number of pending remote assistance
// requests, each request (who asks, for which device, why), accept (which hands over the
// TeamViewer link that starts QuickSupport) and decline.
import { nextPollMs, problemBox } from "../api.js";
import type { PageContext } from "../context.js";
import { h, mount, progress, s, time, whileBusy } from "../dom.js";
import type { EndUserRequest } from "../types.js";

const pollMs = 5000;

export async function companyPortalPage(ctx: PageContext): Promise<void> {
  const { api, user } = ctx.app;
  const badge = h("span", { class: "badge", id: "pending-badge", "aria-hidden": "true", hidden: true });
  // What a screen reader hears (and hears again when the count changes).
  const countText = h("span", { class: "visually-hidden", id: "pending-count-text" }, "No pending requests");
  const list = h("div", { id: "requests", "aria-live": "polite" }, progress("Looking for remote assistance requests"));
  mount(
    ctx.root,
    h(
      "div",
      { class: "company-portal" },
      h(
        "header",
        { class: "cp-header" },
        h("h1", null, "Company Portal"),
        h("span", { class: "cp-flag", role: "status" }, bell(), " Notifications ", badge, countText),
      ),
      h("p", null, `Signed in as ${user.name}. When your help desk asks to connect to one of your devices, the request shows here.`),
      list,
    ),
  );

  // Links handed over on accept stay on screen while the list refreshes.
  const links = new Map<string, string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  ctx.onLeave(() => clearTimeout(timer));
  let busy = false;
  // Re-render only when something changed, so keyboard focus stays where it is while polling.
  let shown = "";

  const answer = async (r: EndUserRequest, button: HTMLButtonElement, kind: "accept" | "decline", out: HTMLElement): Promise<void> => {
    busy = true;
    mount(out);
    await whileBusy(button, kind === "accept" ? "Accepting" : "Declining", async () => {
      try {
        if (kind === "accept") {
          const res = await api.post<{ endUserLink: string }>(`/me/remoteAssistanceRequests/${encodeURIComponent(r.id)}/accept`);
          links.set(r.id, res.endUserLink);
        } else {
          await api.post(`/me/remoteAssistanceRequests/${encodeURIComponent(r.id)}/decline`);
          links.delete(r.id);
        }
      } catch (e) {
        mount(out, problemBox(e));
        busy = false;
        return;
      }
      busy = false;
      await load();
    });
  };

  const card = (r: EndUserRequest): HTMLElement => {
    const out = h("div", { "aria-live": "polite" });
    const link = links.get(r.id);
    const pending = r.status === "awaitingEndUser";
    const body = h(
      "article",
      { class: "panel request", "data-request-id": r.id, "aria-labelledby": `req-${r.id}` },
      h("h2", { id: `req-${r.id}` }, `${r.requestedBy.displayName} from your help desk asks to connect to ${r.deviceName}`),
      h("p", null, "Asked ", time(r.requestedAt)),
      r.description ? h("p", { class: "why" }, h("strong", null, "Why: "), r.description) : null,
    );
    if (pending) {
      const accept = h("button", { type: "button", class: "primary accept" }, "Accept");
      const decline = h("button", { type: "button", class: "decline" }, "Decline");
      accept.addEventListener("click", () => void answer(r, accept, "accept", out));
      decline.addEventListener("click", () => void answer(r, decline, "decline", out));
      body.append(h("div", { class: "actions" }, accept, decline));
    } else if (r.status === "accepted") {
      if (link) {
        body.append(
          h("p", { class: "success" }, "You accepted. Start TeamViewer QuickSupport on this device so your help desk can connect:"),
          h(
            "p",
            null,
            h("a", { class: "button primary quicksupport-link", href: link, target: "_blank", rel: "noopener noreferrer" }, "Open TeamViewer QuickSupport"),
          ),
        );
      } else {
        const show = h("button", { type: "button", class: "primary" }, "Show the TeamViewer link");
        show.addEventListener("click", () => void answer(r, show, "accept", out));
        body.append(h("p", { class: "success" }, "You accepted this request."), h("div", { class: "actions" }, show));
      }
    }
    body.append(out);
    return body;
  };

  const reported = new Set<string>();
  const load = async (): Promise<void> => {
    clearTimeout(timer);
    let delayMs = pollMs;
    try {
      const res = await api.get<{ value: EndUserRequest[] }>("/me/remoteAssistanceRequests");
      const pendingCount = res.value.filter((r) => r.status === "awaitingEndUser").length;
      badge.hidden = pendingCount === 0;
      badge.textContent = String(pendingCount);
      countText.textContent = `: ${pendingCount === 0 ? "no" : pendingCount} pending ${pendingCount === 1 ? "request" : "requests"}`;
      const key = JSON.stringify([res.value, [...links.entries()]]);
      if (!busy && key !== shown) {
        shown = key;
        mount(list, res.value.length === 0 ? h("p", { class: "empty" }, "No remote assistance requests.") : res.value.map(card));
        // Shown now: tell the help desk the request was seen (once per request and page).
        for (const r of res.value) {
          if (r.status !== "awaitingEndUser" || reported.has(r.id)) continue;
          reported.add(r.id);
          void api.post(`/me/remoteAssistanceRequests/${encodeURIComponent(r.id)}/seen`).catch(() => reported.delete(r.id));
        }
      }
    } catch (e) {
      mount(list, problemBox(e));
      delayMs = nextPollMs(e, pollMs); // a 429 says when to come back
    }
    if (!ctx.left()) timer = setTimeout(() => void load(), delayMs);
  };

  await load();
}

/** The Company Portal's notification flag (inline SVG: no emoji font needed). */
function bell(): SVGSVGElement {
  return s(
    "svg",
    { viewBox: "0 0 24 24", width: "20", height: "20", "aria-hidden": "true", focusable: "false" },
    s("path", {
      fill: "currentColor",
      d: "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z",
    }),
  );
}
