// Audit log: every step anyone (or anything) took, newest first, with range and activity filters.
import type { List } from "../api.js";
import type { PageContext } from "../context.js";
import { h, mount, time } from "../dom.js";
import { pagedList } from "../pagedList.js";
import type { AuditEvent } from "../types.js";

const knownActivities = [
  "connector.connect",
  "connector.signIn",
  "connector.consentDenied",
  "connector.authorize",
  "connector.verify",
  "connector.health",
  "connector.tokenRefresh",
  "connector.onboardingExpired",
  "connector.disconnect",
  "session.requested",
  "session.teamViewerSessionCreated",
  "session.notificationSent",
  "session.notificationResent",
  "session.accepted",
  "session.declined",
  "session.closed",
  "session.teamViewerSessionClosed",
  "session.expired",
  "session.failed",
  "roleAssignment.create",
  "roleAssignment.update",
  "roleAssignment.delete",
  "settings.update",
  "device.remove",
  "device.restore",
  "message.rejected",
];

export async function auditPage(ctx: PageContext): Promise<void> {
  const { api } = ctx.app;
  const q = ctx.query;
  const from = h("input", { type: "date", id: "audit-from", name: "from", value: q.get("from") ?? "" });
  const to = h("input", { type: "date", id: "audit-to", name: "to", value: q.get("to") ?? "" });
  const activity = h("input", { id: "audit-activity", name: "activity", list: "audit-activities", value: q.get("activity") ?? "", autocomplete: "off", placeholder: "e.g. session.closed" });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter the audit log" },
    h("div", { class: "field" }, h("label", { for: "audit-from" }, "From"), from),
    h("div", { class: "field" }, h("label", { for: "audit-to" }, "To (inclusive)"), to),
    h("div", { class: "field" }, h("label", { for: "audit-activity" }, "Activity"), activity, h("datalist", { id: "audit-activities" }, knownActivities.map((a) => h("option", { value: a })))),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, "Filter")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("/audit", { from: from.value, to: to.value, activity: activity.value.trim() });
  });
  const results = h("div", { id: "audit-results", "aria-live": "polite" });
  mount(ctx.root, h("h1", null, "Audit log"), form, results);

  const toIso = (day: string | null, end: boolean): string | undefined => {
    if (!day) return undefined;
    const d = new Date(`${day}T00:00:00`);
    if (end) d.setDate(d.getDate() + 1);
    return d.toISOString();
  };
  await pagedList<AuditEvent>(results, {
    loading: "Loading the audit log",
    empty: "No audit events match these filters.",
    fetch: (continuationToken) =>
      api.get<List<AuditEvent>>("/auditEvents", {
        from: toIso(q.get("from"), false),
        to: toIso(q.get("to"), true),
        activity: q.get("activity"),
        top: 50,
        continuationToken,
      }),
    render: (events) =>
      h("table", { class: "list", id: "audit-table" },
        h("thead", null, h("tr", null, ["When", "Who", "Activity", "Target", "Result", "Detail"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, events.map((e) =>
          h("tr", { "data-activity": e.activity, "data-target-id": e.target.id },
            h("td", null, time(e.at)),
            h("td", null, `${e.actor.displayName}${e.actor.type !== "user" ? ` (${e.actor.type})` : ""}`),
            h("td", null, h("code", null, e.activity)),
            h("td", null, `${e.target.type} `, h("code", { class: "id" }, e.target.id)),
            h("td", null, h("span", { class: e.result === "success" ? "success-text" : "error-text" }, e.result)),
            h("td", null, e.detail ?? "")),
        ))),
  });
}
