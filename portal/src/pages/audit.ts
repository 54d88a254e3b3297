// Audit log: every step anyone (or anything) took, newest first, with a range and an
// activity picker. Activities read as words (the code stays in the row's data and title);
// sessions and devices are named by their device, looked up once per page for readers who
// may see them.
import type { List } from "../api.js";
import type { PageContext } from "../context.js";
import { h, mount, time } from "../dom.js";
import { pagedList } from "../pagedList.js";
import type { AuditEvent, Device, Session } from "../types.js";

/** The activities the service records, grouped for the picker, with what a person calls them. */
export const activityGroups: readonly { readonly label: string; readonly activities: Readonly<Record<string, string>> }[] = [
  {
    label: "Sessions",
    activities: {
      "session.requested": "Session requested",
      "session.approved": "Request approved",
      "session.denied": "Request denied",
      "session.teamViewerSessionCreated": "TeamViewer session created",
      "session.notificationSent": "User notified",
      "session.notificationResent": "Notification sent again",
      "session.accepted": "Accepted by the user",
      "session.seen": "Seen by the user",
      "session.declined": "Declined by the user",
      "session.connected": "Supporter connected",
      "session.closed": "Session closed",
      "session.teamViewerSessionClosed": "TeamViewer session closed",
      "session.expired": "Session expired",
      "session.failed": "Session failed",
      "session.create.deadLettered": "Session creation gave up",
      "session.close.deadLettered": "Closing at TeamViewer gave up",
      "notification.send.deadLettered": "Notification gave up",
      "remoteAssistance.requested.deadLettered": "Automation request gave up",
    },
  },
  {
    label: "TeamViewer connector",
    activities: {
      "connector.connect": "Connection started",
      "connector.signIn": "TeamViewer sign-in",
      "connector.consentDenied": "TeamViewer consent denied",
      "connector.authorize": "Connector authorized",
      "connector.verify": "Connection checked",
      "connector.health": "Connector health changed",
      "connector.tokenRefresh": "TeamViewer token refreshed",
      "connector.onboardingExpired": "Connection attempt expired",
      "connector.disconnect": "Connector disconnected",
    },
  },
  {
    label: "Administration",
    activities: {
      "roleAssignment.create": "Role assignment added",
      "roleAssignment.update": "Role assignment changed",
      "roleAssignment.delete": "Role assignment removed",
      "settings.update": "Settings changed",
      "auditSubscription.create": "Audit subscription added",
      "auditSubscription.update": "Audit subscription changed",
      "auditSubscription.delete": "Audit subscription removed",
    },
  },
  {
    label: "Inventory and messages",
    activities: {
      "device.remove": "Device removed",
      "device.restore": "Device restored",
      "deviceIndex.reindexStarted": "Device index rebuild started",
      "deviceIndex.reindexProgress": "Device index rebuild progress",
      "deviceIndex.reindexFinished": "Device index rebuild finished",
      "deviceIndex.reindexInterrupted": "Device index rebuild interrupted",
      "deviceIndex.reindexAbandoned": "Device index rebuild abandoned",
      "deviceIndex.deviceSkipped": "Device skipped by the index rebuild",
      "device.upserted.deadLettered": "Device update gave up",
      "device.removed.deadLettered": "Device removal gave up",
      "user.upserted.deadLettered": "User update gave up",
      "message.rejected": "Message rejected",
      "message.deadLetterAbandoned": "Dead letter abandoned",
    },
  },
];

const activityNames: ReadonlyMap<string, string> = new Map(activityGroups.flatMap((g) => Object.entries(g.activities)));

const commandNames: Readonly<Record<string, string>> = {
  "session.create": "Session creation",
  "session.close": "Closing at TeamViewer",
  "notification.send": "Notification",
  "connector.authorize": "Connector authorization",
  "connector.disconnect": "Connector disconnect",
  "remoteAssistance.requested": "Automation request",
  "device.upserted": "Device update",
  "device.removed": "Device removal",
  "user.upserted": "User update",
  "audit.deliver": "Audit push",
};

/** A readable name for an activity code; codes made from a message type read as "<what> failed" and the like. */
export function activityName(code: string): string {
  const known = activityNames.get(code);
  if (known) return known;
  const suffixes: readonly [string, string][] = [
    [".failed", "failed"],
    [".deadLettered", "gave up"],
    [".maintenanceSkipped", "skipped by maintenance"],
  ];
  for (const [suffix, words] of suffixes) {
    if (!code.endsWith(suffix)) continue;
    const what = code.slice(0, -suffix.length);
    return `${commandNames[what] ?? sentence(what)} ${words}`;
  }
  return sentence(code);
}

/** "device.fooBar" → "Device foo bar": better than a code when nothing else is known. */
function sentence(code: string): string {
  const words = code
    .replace(/[._-]+/g, " ")
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const targetTypeNames: Readonly<Record<string, string>> = {
  session: "Session",
  device: "Device",
  connector: "TeamViewer connector",
  roleAssignment: "Role assignment",
  settings: "Settings",
  message: "Message",
  auditSubscription: "Audit subscription",
  user: "User",
};

export async function auditPage(ctx: PageContext): Promise<void> {
  const { api, perms } = ctx.app;
  const q = ctx.query;
  const chosen = q.get("activity") ?? "";
  const from = h("input", { type: "date", id: "audit-from", name: "from", value: q.get("from") ?? "" });
  const to = h("input", { type: "date", id: "audit-to", name: "to", value: q.get("to") ?? "" });
  const activity = h(
    "select",
    { id: "audit-activity", name: "activity" },
    h("option", { value: "" }, "Any activity"),
    activityGroups.map((g) =>
      h(
        "optgroup",
        { label: g.label },
        Object.entries(g.activities).map(([code, name]) => h("option", { value: code }, name)),
      ),
    ),
    // A code from a link or an older bookmark that the list does not name still filters.
    chosen !== "" && !activityNames.has(chosen) ? h("option", { value: chosen }, activityName(chosen)) : null,
  );
  activity.value = chosen;
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter the audit log" },
    h("div", { class: "field" }, h("label", { for: "audit-from" }, "From"), from),
    h("div", { class: "field" }, h("label", { for: "audit-to" }, "To (inclusive)"), to),
    h("div", { class: "field" }, h("label", { for: "audit-activity" }, "Activity"), activity),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, "Filter")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("/audit", { from: from.value, to: to.value, activity: activity.value });
  });
  const results = h("div", { id: "audit-results", "aria-live": "polite" });
  mount(ctx.root, h("h1", null, "Audit log"), form, results);

  const toIso = (day: string | null, end: boolean): string | undefined => {
    if (!day) return undefined;
    const d = new Date(`${day}T00:00:00`);
    if (end) d.setDate(d.getDate() + 1);
    return d.toISOString();
  };
  // Device names, looked up once per id while the page is open (only for readers who may read devices and sessions).
  const deviceNames = new Map<string, Promise<string | undefined>>();
  const nameOf = (type: string, id: string): Promise<string | undefined> => {
    const key = `${type}/${id}`;
    let found = deviceNames.get(key);
    if (!found) {
      found = (
        type === "session"
          ? api.get<Session>(`/sessions/${encodeURIComponent(id)}`).then((s) => s.device.deviceName)
          : api.get<Device>(`/devices/${encodeURIComponent(id)}`).then((d) => d.deviceName)
      ).catch(() => undefined); // Gone, or outside the reader's scope: the id stays.
      deviceNames.set(key, found);
    }
    return found;
  };
  const target = (e: AuditEvent): HTMLElement => {
    const typeName = targetTypeNames[e.target.type] ?? sentence(e.target.type);
    const cell = h("td", { "data-target-type": e.target.type });
    const short = h("code", { class: "id", title: e.target.id }, e.target.id.length > 12 ? `${e.target.id.slice(0, 8)}…` : e.target.id);
    const linkable = perms.read && (e.target.type === "session" || e.target.type === "device");
    if (!linkable) {
      mount(cell, `${typeName} `, e.target.type === "connector" || e.target.type === "settings" ? null : short);
      return cell;
    }
    const href = `#/${e.target.type === "session" ? "sessions" : "devices"}/${encodeURIComponent(e.target.id)}`;
    mount(cell, h("a", { href }, typeName), " ", short);
    void nameOf(e.target.type, e.target.id).then((name) => {
      if (name) mount(cell, h("a", { href, title: e.target.id }, e.target.type === "session" ? `Session on ${name}` : name));
    });
    return cell;
  };
  await pagedList<AuditEvent>(results, {
    loading: "Loading the audit log",
    empty: "No audit events match these filters.",
    fetch: (continuationToken) =>
      api.get<List<AuditEvent>>("/auditEvents", {
        from: toIso(q.get("from"), false),
        to: toIso(q.get("to"), true),
        activity: q.get("activity") || undefined,
        top: 50,
        continuationToken,
      }),
    render: (events) =>
      h(
        "table",
        { class: "list", id: "audit-table" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["When", "Who", "Activity", "About", "Result", "Detail"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        h(
          "tbody",
          null,
          events.map((e) =>
            h(
              "tr",
              { "data-activity": e.activity, "data-target-id": e.target.id },
              h("td", null, time(e.at)),
              h(
                "td",
                { title: e.actor.id },
                e.actor.displayName,
                e.actor.type !== "user" ? h("span", { class: "muted" }, e.actor.type === "system" ? " (the service)" : ` (${e.actor.type})`) : null,
              ),
              h("td", { title: e.activity }, activityName(e.activity)),
              target(e),
              h("td", null, h("span", { class: e.result === "success" ? "success-text" : "error-text" }, e.result === "success" ? "Success" : "Failure")),
              h("td", null, e.detail ?? ""),
            ),
          ),
        ),
      ),
  });
}
