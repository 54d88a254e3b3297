// Devices → a device: its details, whether remote assistance is possible, "New Remote
// Assistance Session", the live session panel, and the device's earlier sessions.
import { ApiProblem, problemBox, type List } from "../api.js";
import { hashFor, type PageContext } from "../context.js";
import { details, h, mount, progress, time, whileBusy } from "../dom.js";
import { pageWithItems } from "../pagedList.js";
import { notCompliant, statusText, type Device, type Session } from "../types.js";
import { eligibilityCell } from "./devices.js";
import { sessionPanel } from "./sessionPanel.js";

export async function devicePage(ctx: PageContext): Promise<void> {
  const { api, perms } = ctx.app;
  const deviceId = ctx.params.deviceId;
  mount(ctx.root, progress("Loading the device"));
  let device: Device;
  try {
    device = await api.get<Device>(`/devices/${encodeURIComponent(deviceId)}`);
  } catch (e) {
    mount(ctx.root, h("h1", null, "Device"), problemBox(e));
    return;
  }
  const ra = device.remoteAssistance;
  const deviceSlot = h("div", { id: "device-details" });
  const panelSlot = h("div", { id: "session-slot" });
  const requestSlot = h("div");
  const earlier = h("div", { "aria-live": "polite" });
  /** Called with the device as re-read, or undefined when it could not be (the request form follows it). */
  let deviceChanged: (d: Device | undefined) => void = () => undefined;

  mount(
    ctx.root,
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, h("a", { href: hashFor("/devices") }, "Devices › All devices"), ` › ${device.deviceName}`),
    h("h1", { id: "device-name" }, device.deviceName),
    deviceSlot,
    requestSlot,
    panelSlot,
    h("h2", null, "Sessions on this device"),
    earlier,
  );
  mount(deviceSlot, deviceDetails(device));

  /**
   * A request that waited may fail because the device was removed or given to another user
   * meanwhile: then what this page shows of it is out of date, and a new request would go to
   * its new user. Read it again.
   */
  const rereadDevice = async (): Promise<void> => {
    try {
      const now = await api.get<Device>(`/devices/${encodeURIComponent(deviceId)}`);
      mount(
        deviceSlot,
        h("p", { class: "info", id: "device-reread" }, "A request failed because the device changed while it waited: this is the device as it is now."),
        deviceDetails(now),
      );
      deviceChanged(now);
    } catch (e) {
      mount(deviceSlot, problemBox(e));
      deviceChanged(undefined);
    }
  };
  let reread = false;

  const showPanel = (sessionId: string): void => {
    mount(
      panelSlot,
      sessionPanel(ctx, sessionId, (session) => {
        void loadEarlier();
        if (session.failure?.code === "deviceNotEligible" && !reread) {
          reread = true;
          void rereadDevice();
        }
      }),
    );
    ctx.replaceQuery({ session: sessionId });
  };

  if (perms.request) {
    const description = h("textarea", { id: "session-description", name: "description", maxlength: "500", rows: "2", "aria-describedby": "description-help" });
    const ticket = h("input", { id: "session-ticket", name: "ticketId", type: "text", maxlength: "64", "aria-describedby": "ticket-help" });
    const ticketHelp = h("span", { class: "muted", id: "ticket-help" }, "The help-desk ticket this is for. Your organization may require one.");
    // Intune says the device is not compliant: connecting needs an explicit "connect anyway".
    const acknowledge = h("input", { id: "acknowledge-noncompliant", type: "checkbox", name: "acknowledgeWarnings" });
    const complianceBox = h(
      "div",
      { class: "warning", id: "compliance-warning", hidden: !notCompliant(device.complianceState) },
      h(
        "p",
        null,
        h("strong", null, "This device is not compliant"),
        ` (Intune reports ${device.complianceState ?? "a problem"}). Connecting to it may expose the helper or the network.`,
      ),
      h("label", { for: "acknowledge-noncompliant" }, acknowledge, " Connect anyway: I am aware the device is not compliant"),
    );
    const button = h(
      "button",
      { type: "submit", class: "primary", id: "new-session", disabled: !ra.eligible || device.removed === true },
      "New Remote Assistance Session",
    );
    deviceChanged = (d) => {
      button.disabled = !d || !d.remoteAssistance.eligible || d.removed === true;
    };
    const out = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      { class: "panel", "aria-labelledby": "new-session-heading" },
      h("h2", { id: "new-session-heading" }, "New Remote Assistance Session"),
      !ra.eligible
        ? h("p", { class: "not-eligible", id: "new-session-blocked" }, `Not possible on this device: ${ra.reasonText ?? ra.reason ?? "not supported"}`)
        : null,
      h("div", { class: "field" }, h("label", { for: "session-ticket" }, "Ticket"), ticket, ticketHelp),
      complianceBox,
      h(
        "div",
        { class: "field" },
        h("label", { for: "session-description" }, "Why (optional, the user sees it)"),
        description,
        h("span", { class: "muted", id: "description-help" }, "At most 500 characters."),
      ),
      h("div", { class: "actions" }, button),
      out,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      mount(out);
      // One key per click: a retried request never makes a second session.
      const key = crypto.randomUUID();
      void whileBusy(button, "Requesting", async () => {
        try {
          const text = description.value.trim();
          const ticketId = ticket.value.trim();
          const body = {
            ...(text ? { description: text } : {}),
            ...(ticketId ? { ticketId } : {}),
            ...(acknowledge.checked ? { acknowledgeWarnings: ["deviceNotCompliant"] } : {}),
          };
          const s = await api.post<Session>(`/devices/${encodeURIComponent(device.id)}/remoteAssistanceSessions`, body, { "idempotency-key": key });
          description.value = "";
          ticket.value = "";
          acknowledge.checked = false;
          showPanel(s.id);
          void loadEarlier();
        } catch (e) {
          const p = e instanceof ApiProblem ? (e.problem as { code?: string; existingSessionId?: string; errors?: readonly { path: string }[] }) : undefined;
          if (p?.existingSessionId) {
            // One open session per device: offer the one there is instead of a second.
            const open = h("button", { type: "button", id: "open-existing-session" }, "Open the existing session");
            open.addEventListener("click", () => showPanel(p.existingSessionId!));
            mount(out, h("div", { class: "info", id: "existing-session" }, h("p", null, "This device already has an open remote assistance session."), open));
          } else if (p?.code === "acknowledgementRequired") {
            complianceBox.hidden = false;
            mount(out, h("p", { class: "warning", role: "alert" }, "This device is not compliant. Tick “Connect anyway” to request the session regardless."));
            acknowledge.focus();
          } else if (p?.errors?.some((x) => x.path === "body.ticketId")) {
            ticket.required = true;
            ticketHelp.textContent = "Required by your organization: name the help-desk ticket.";
            mount(out, problemBox(e));
            ticket.focus();
          } else {
            mount(out, problemBox(e));
          }
        }
      });
    });
    mount(requestSlot, form);
  }

  const loadEarlier = async (): Promise<void> => {
    try {
      // A page may end early (short, even empty) and still have a token: empty ones are followed
      // a few times, and a token left at the end means there may be more.
      const list = await pageWithItems(
        (continuationToken) => api.get<List<Session>>("/sessions", { deviceId: device.id, top: 10, continuationToken }),
        undefined,
      );
      const more = list.continuationToken
        ? h("p", null, h("a", { href: hashFor("/sessions", { deviceId: device.id }), id: "device-all-sessions" }, "All sessions of this device"))
        : null;
      mount(
        earlier,
        list.value.length === 0
          ? more
            ? null
            : h("p", { class: "empty" }, "No sessions yet.")
          : h(
              "ul",
              { class: "plain" },
              list.value.map((s) =>
                h(
                  "li",
                  null,
                  h("a", { href: hashFor(`/sessions/${s.id}`) }, time(s.requestedAt)),
                  ` — ${statusText[s.status]}, requested by ${s.requestedBy.displayName}`,
                ),
              ),
            ),
        more,
      );
    } catch (e) {
      mount(earlier, problemBox(e));
    }
  };

  const existing = ctx.query.get("session");
  if (existing) showPanel(existing);
  await loadEarlier();
}

/** What the page says of the device: its details, whether remote assistance is possible, and Intune's warnings. */
function deviceDetails(device: Device): Node[] {
  const ra = device.remoteAssistance;
  return [
    details([
      ["Operating system", `${device.operatingSystem} ${device.osVersion}`],
      ["Ownership", device.ownership],
      ["Enrollment type", device.enrollmentType],
      ["Primary user", device.userDisplayName ? `${device.userDisplayName} (${device.userPrincipalName ?? device.emailAddress ?? ""})` : "None"],
      ["Scope tags", device.scopeTags.join(", ")],
      ["Last sync", time(device.lastSyncDateTime)],
      ["Compliance", h("span", { id: "device-compliance" }, device.complianceState ?? "Not reported")],
      device.removed ? ["Removed", time(device.removedDateTime)] : null,
      ["Remote assistance", h("span", { id: "device-eligibility" }, eligibilityCell(device))],
    ]),
    ...(ra.warnings.length > 0
      ? [
          h(
            "div",
            { class: "warning", id: "device-warnings" },
            ra.warnings.map((w) => h("p", null, w)),
          ),
        ]
      : []),
  ];
}
