// Sessions: the history with status and device filters, and one session's live panel.
import { problemBox, type List } from "../api.js";
import { hashFor, type PageContext } from "../context.js";
import { h, mount, time } from "../dom.js";
import { pagedList } from "../pagedList.js";
import { sessionStatuses, statusText, type Device, type Session } from "../types.js";
import { sessionPanel } from "./sessionPanel.js";

export async function sessionsPage(ctx: PageContext): Promise<void> {
  const { api } = ctx.app;
  const q = ctx.query;
  const status = h(
    "select",
    { id: "session-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    sessionStatuses.map((st) => h("option", { value: st, selected: q.get("status") === st }, statusText[st])),
  );
  const deviceName = h("input", {
    id: "session-device",
    name: "deviceName",
    value: q.get("deviceName") ?? "",
    autocomplete: "off",
    placeholder: "device name",
  });
  const filterNote = h("p", { class: "muted", id: "session-device-note", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter sessions" },
    h("div", { class: "field" }, h("label", { for: "session-status" }, "Status"), status),
    h("div", { class: "field" }, h("label", { for: "session-device" }, "Device name"), deviceName),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, "Filter")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("/sessions", { status: status.value, deviceName: deviceName.value.trim() });
  });
  const results = h("div", { id: "session-results", "aria-live": "polite" });
  mount(ctx.root, h("h1", null, "Sessions"), form, filterNote, results);

  // The API filters by device id: the name is looked up in the inventory (an exact name first).
  let deviceId = q.get("deviceId") ?? undefined;
  const name = q.get("deviceName")?.trim();
  if (name) {
    try {
      const found = await api.get<List<Device>>("/devices", { search: name, top: 50 });
      const exact = found.value.filter((d) => d.deviceName.toLowerCase() === name.toLowerCase());
      const match = exact[0] ?? found.value[0];
      if (!match) {
        mount(filterNote, `No device is named like “${name}”.`);
        mount(results, h("p", { class: "empty" }, "No sessions match these filters."));
        return;
      }
      deviceId = match.id;
      const others = (exact.length > 0 ? exact : found.value).length - 1;
      mount(filterNote, `Sessions of ${match.deviceName}${others > 0 ? ` (${others} more devices have this name; refine it to pick another)` : ""}.`);
    } catch (e) {
      mount(results, problemBox(e));
      return;
    }
  }

  await pagedList<Session>(results, {
    loading: "Loading sessions",
    empty: "No sessions match these filters.",
    fetch: (continuationToken) => api.get<List<Session>>("/sessions", { status: q.get("status"), deviceId, top: 25, continuationToken }),
    render: (sessions) =>
      h(
        "table",
        { class: "list", id: "session-table" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Requested", "Device", "User", "Requested by", "Status", "Why"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        h(
          "tbody",
          null,
          sessions.map((s) =>
            h(
              "tr",
              { "data-session-id": s.id, "data-status": s.status },
              h("td", null, h("a", { href: hashFor(`/sessions/${s.id}`) }, time(s.requestedAt))),
              h("td", null, s.device.deviceName),
              h("td", null, s.device.userDisplayName ?? "—"),
              h("td", null, s.requestedBy.displayName),
              h("td", null, h("span", { class: `status status-${s.status}` }, statusText[s.status])),
              h("td", null, s.description ?? ""),
            ),
          ),
        ),
      ),
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
