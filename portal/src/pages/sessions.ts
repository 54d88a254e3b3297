// Sessions: the history with status and device filters, and one session's live panel.
import type { List } from "../api.js";
import { hashFor, type PageContext } from "../context.js";
import { h, mount, time } from "../dom.js";
import { pagedList } from "../pagedList.js";
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

  await pagedList<Session>(results, {
    loading: "Loading sessions",
    empty: "No sessions match these filters.",
    fetch: (continuationToken) => api.get<List<Session>>("/sessions", { status: q.get("status"), deviceId: q.get("deviceId"), top: 25, continuationToken }),
    render: (sessions) =>
      h("table", { class: "list", id: "session-table" },
        h("thead", null, h("tr", null, ["Requested", "Device", "User", "Requested by", "Status", "Why"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, sessions.map((s) =>
          h("tr", { "data-session-id": s.id, "data-status": s.status },
            h("td", null, h("a", { href: hashFor(`/sessions/${s.id}`) }, time(s.requestedAt))),
            h("td", null, s.device.deviceName),
            h("td", null, s.device.userDisplayName ?? "—"),
            h("td", null, s.requestedBy.displayName),
            h("td", null, h("span", { class: `status status-${s.status}` }, statusText[s.status])),
            h("td", null, s.description ?? "")),
        ))),
  });
}

export function sessionPage(ctx: PageContext): void {
  mount(
    ctx.root,
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, h("a", { href: hashFor("/sessions") }, "Sessions"), " › Session"),
    h("h1", null, "Session"),
    sessionPanel(ctx, ctx.params.sessionId),
  );
}
