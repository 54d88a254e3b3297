// Sessions: the history with status and device filters, and one session's live panel.
import { problemBox, type List } from "../api.js";
import { hashFor, type PageContext } from "../context.js";
import { h, mount, pager, progress, time } from "../dom.js";
import { sessionStatuses, statusText, type Session } from "../types.js";
import { sessionPanel } from "./sessionPanel.js";

export async function sessionsPage(ctx: PageContext): Promise<void> {
  const { api } = ctx.app;
  const q = ctx.query;
  const status = h("select", { id: "session-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    sessionStatuses.map((st) => h("option", { value: st, selected: q.get("status") === st }, statusText[st])));
  const deviceId = h("input", { id: "session-device", name: "deviceId", value: q.get("deviceId") ?? "", autocomplete: "off", placeholder: "device id" });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter sessions" },
    h("div", { class: "field" }, h("label", { for: "session-status" }, "Status"), status),
    h("div", { class: "field" }, h("label", { for: "session-device" }, "Device id"), deviceId),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, "Filter")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("/sessions", { status: status.value, deviceId: deviceId.value.trim() });
  });
  const results = h("div", { id: "session-results", "aria-live": "polite" });
  mount(ctx.root, h("h1", null, "Sessions"), form, results);

  const tokens: (string | undefined)[] = [undefined];
  let pageIndex = 0;
  const load = async (): Promise<void> => {
    mount(results, progress("Loading sessions"));
    try {
      const page = await api.get<List<Session>>("/sessions", { status: q.get("status"), deviceId: q.get("deviceId"), top: 25, continuationToken: tokens[pageIndex] });
      if (page.continuationToken) tokens[pageIndex + 1] = page.continuationToken;
      if (page.value.length === 0) {
        mount(results, h("p", { class: "empty" }, "No sessions match these filters."));
        return;
      }
      mount(
        results,
        h("table", { class: "list", id: "session-table" },
          h("thead", null, h("tr", null, ["Requested", "Device", "User", "Requested by", "Status", "Why"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, page.value.map((s) =>
            h("tr", { "data-session-id": s.id, "data-status": s.status },
              h("td", null, h("a", { href: hashFor(`/sessions/${s.id}`) }, time(s.requestedAt))),
              h("td", null, s.device.deviceName),
              h("td", null, s.device.userDisplayName ?? "—"),
              h("td", null, s.requestedBy.displayName),
              h("td", null, h("span", { class: `status status-${s.status}` }, statusText[s.status])),
              h("td", null, s.description ?? "")),
          ))),
        pager(pageIndex, Boolean(page.continuationToken), (i) => {
          pageIndex = i;
          void load();
        }),
      );
    } catch (e) {
      mount(results, problemBox(e));
    }
  };
  await load();
}

export function sessionPage(ctx: PageContext): void {
  mount(
    ctx.root,
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, h("a", { href: hashFor("/sessions") }, "Sessions"), " › Session"),
    h("h1", null, "Session"),
    sessionPanel(ctx, ctx.params.sessionId),
  );
}
