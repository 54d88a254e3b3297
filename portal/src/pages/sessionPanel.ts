// The session panel: follows a session live (requested → awaiting the user → accepted →
// closed), with the device and user, the Connect (supporter) link, resend notification,
// close, and for users who can't be notified the end-user link to pass on.
import { ApiProblem, nextPollMs, problemBox } from "../api.js";
import type { PageContext } from "../context.js";
import { details, h, mount, progress, time, whileBusy } from "../dom.js";
import { openStatuses, statusText, type Session, type SessionConnection, type SessionStatus } from "../types.js";

const steps: readonly SessionStatus[] = ["requested", "awaitingEndUser", "accepted", "closed"];
const pollMs = 1500;

/** How often and for how long the panel looks at a just-closed session while TeamViewer's side of it is being closed. */
const closingPollMs = 10_000;
const closingForMs = 30 * 60_000;

/**
 * Whether TeamViewer's side of a session closed in the last half hour is still being closed:
 * the service retries it for minutes and notes the outcome in the history (closed, or the
 * `teamViewerCloseFailed` failure), so nothing after the close entry means "not yet".
 */
export function teamViewerStillClosing(s: Session, now: number): boolean {
  if (s.status !== "closed" || !s.teamViewer || s.failure || !s.closedAt) return false;
  if (Date.parse(s.closedAt) + closingForMs <= now) return false;
  const closedEntry = s.history.findIndex((e) => e.status === "closed");
  return closedEntry === s.history.length - 1;
}

/**
 * Answers that asking again will not change: the session is gone or not the reader's to see
 * (404, e.g. its device moved out of their scope; 403) or the sign-in ended (401).
 */
function endsFollowing(error: unknown): boolean {
  return error instanceof ApiProblem && [401, 403, 404].includes(error.problem.status ?? 0);
}

const notificationText = {
  pending: "Being sent to the user's Company Portal",
  sent: "Sent to the user's Company Portal",
  seen: "Seen by the user in the Company Portal",
  notSupported: "Not possible: the device has no user who can be notified",
  failed: "Could not be delivered",
} as const;

/** "Waiting for TeamViewer quota — expected at 14:05" while the tenant's TeamViewer quota holds the request back. */
export function quotaWaitText(s: Pick<Session, "status" | "waitingForTeamViewerQuotaUntil">): string | undefined {
  if (s.status !== "requested" || !s.waitingForTeamViewerQuotaUntil) return undefined;
  const at = new Date(s.waitingForTeamViewerQuotaUntil);
  if (Number.isNaN(at.getTime())) return undefined;
  return `Waiting for TeamViewer quota — expected at ${at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}`;
}

function whatNow(s: Session): string {
  switch (s.status) {
    case "pendingApproval":
      return "Waiting for a second person's approval; nothing is created at TeamViewer yet";
    case "denied":
      return `The request was denied${s.approval?.decision ? ` by ${s.approval.decision.by.displayName}` : ""}`;
    case "requested":
      return quotaWaitText(s) ?? "Creating the TeamViewer session";
    case "awaitingEndUser":
      return s.endUserNotification.status === "notSupported"
        ? "Waiting for the user: pass the end-user link on to them"
        : `Waiting for ${s.device.userDisplayName ?? "the user"} to accept in the Company Portal`;
    case "accepted":
      return "The user accepted: connect now";
    case "declined":
      return "The user declined the request";
    case "expired":
      return "The request expired before the user accepted";
    case "failed":
      return "The session could not be set up";
    case "closed":
      return "The session is closed";
  }
}

function connectionLength(c: SessionConnection): string {
  if (c.durationSeconds === null) return "still connected";
  if (c.durationSeconds < 60) return `${c.durationSeconds} s`;
  const minutes = Math.round(c.durationSeconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Who connected, when and for how long, as TeamViewer reported it (a few minutes after the fact). */
function connectionsSection(s: Session): HTMLElement[] {
  const connections = s.connections ?? [];
  const heading = h("h3", null, "Connections");
  if (connections.length === 0) {
    const text = s.neverConnected
      ? "The user accepted, but TeamViewer has reported no connection to this session. Reports arrive a few minutes after a connection."
      : "No connection reported by TeamViewer.";
    return [heading, h("p", { class: s.neverConnected ? "warning" : "muted", id: "session-connections-none" }, text)];
  }
  return [
    heading,
    h(
      "table",
      { class: "list", id: "session-connections" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { scope: "col" }, "Supporter"),
          h("th", { scope: "col" }, "Started"),
          h("th", { scope: "col" }, "Ended"),
          h("th", { scope: "col" }, "Duration"),
        ),
      ),
      h(
        "tbody",
        null,
        connections.map((c) =>
          h(
            "tr",
            null,
            h("td", null, `${c.supporter.name} (${c.supporter.userId})`),
            h("td", null, time(c.startedAt)),
            h("td", null, c.endedAt ? time(c.endedAt) : "—"),
            h("td", null, connectionLength(c)),
          ),
        ),
      ),
    ),
  ];
}

function stepper(s: Session): HTMLElement {
  const reached = new Set(s.history.map((x) => x.status));
  reached.add(s.status);
  const offPath = !steps.includes(s.status);
  // A session that ended off the happy path (declined, expired, failed) shows only the steps it reached.
  const shown = offPath ? steps.filter((step) => reached.has(step)) : steps;
  return h(
    "ol",
    { class: "stepper", "aria-label": "Session progress" },
    shown.map((step) =>
      h(
        "li",
        { class: step === s.status ? "current" : reached.has(step) ? "done" : "todo", "aria-current": step === s.status ? "step" : null },
        statusText[step],
      ),
    ),
    offPath ? h("li", { class: "current off-path", "aria-current": "step" }, statusText[s.status]) : null,
  );
}

export function sessionPanel(ctx: PageContext, sessionId: string, onChange?: (s: Session) => void): HTMLElement {
  const { api, perms } = ctx.app;
  const live = h("p", { class: "live-status", role: "status", "aria-live": "polite", id: "session-status-text" });
  const content = h("div", null, progress("Loading the session"));
  const actionResult = h("div", { "aria-live": "polite", id: "session-action-result" });
  const panel = h(
    "section",
    { class: "panel session-panel", id: "session-panel", "aria-labelledby": "session-heading", "data-session-id": sessionId },
    h("h2", { id: "session-heading" }, "Remote assistance session"),
    live,
    content,
    actionResult,
  );

  let current: Session | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastAnnounced = "";
  let shown = "";
  /** The action result area holds a failed read (not an action's answer): the next good read clears it. */
  let readProblemShown = false;
  ctx.onLeave(() => clearTimeout(timer));

  const render = (s: Session): void => {
    // A message about an action ("Closing the session…") is over once the status moved on.
    if (current && current.status !== s.status) mount(actionResult);
    current = s;
    panel.dataset.status = s.status;
    const said = `Status: ${statusText[s.status]}. ${whatNow(s)}.`;
    if (said !== lastAnnounced) {
      live.textContent = said;
      lastAnnounced = said;
    }
    const open = openStatuses.includes(s.status);
    const connect =
      s.teamViewer && open
        ? h(
            "p",
            { class: "connect" },
            h("a", { class: "button primary", id: "connect-link", href: s.teamViewer.supporterLink, target: "_blank", rel: "noopener noreferrer" }, "Connect"),
            h("span", { class: "muted" }, ` Session code ${s.teamViewer.code}, valid until `, time(s.teamViewer.validUntil)),
          )
        : s.status === "requested"
          ? quotaWaitText(s)
            ? h(
                "p",
                { class: "info", id: "quota-wait" },
                `${quotaWaitText(s)}. The tenant's TeamViewer calls per minute are used up; the session is created then, nothing is lost.`,
              )
            : progress("Creating the TeamViewer session")
          : null;
    const userless = s.endUserNotification.status === "notSupported";
    const endUserLink =
      userless && s.endUserLink
        ? h(
            "div",
            { class: "warning", id: "end-user-link-box" },
            h("p", null, h("strong", null, "The user can't be notified in the Company Portal. ")),
            s.warnings.map((w) => h("p", null, w)),
            h("label", { for: "end-user-link" }, "End-user link to pass on (by phone or email)"),
            h("input", { id: "end-user-link", type: "text", readonly: true, value: s.endUserLink, class: "wide" }),
            copyButton(s.endUserLink),
          )
        : userless && s.warnings.length > 0
          ? h(
              "div",
              { class: "warning" },
              s.warnings.map((w) => h("p", null, w)),
            )
          : null;
    const otherWarnings =
      !userless && s.warnings.length > 0
        ? h(
            "div",
            { class: "warning" },
            s.warnings.map((w) => h("p", null, w)),
          )
        : null;

    const actions = h("div", { class: "actions" });
    if (perms.request && open) {
      if (s.status === "awaitingEndUser" && s.endUserNotification.channel === "companyPortal") {
        const resend = h("button", { type: "button", id: "resend-notification" }, "Resend notification");
        resend.addEventListener(
          "click",
          () => void act(resend, "Resending", `/sessions/${encodeURIComponent(s.id)}/resendNotification`, "The notification was sent again."),
        );
        actions.append(resend);
      }
      const close = h("button", { type: "button", id: "close-session", class: "danger" }, "Close session");
      close.addEventListener(
        "click",
        () => void act(close, "Closing", `/sessions/${encodeURIComponent(s.id)}/close`, "Closing the session (TeamViewer's side too)."),
      );
      actions.append(close);
    }

    mount(
      content,
      stepper(s),
      connect,
      endUserLink,
      otherWarnings,
      teamViewerStillClosing(s, Date.now())
        ? h(
            "p",
            { class: "info", id: "teamviewer-closing" },
            "Closing TeamViewer's side of the session. If TeamViewer does not answer, this is retried for some minutes; the outcome shows here.",
          )
        : null,
      s.failure
        ? h(
            "div",
            { class: "problem", role: "alert" },
            h(
              "p",
              null,
              h("strong", null, s.failure.code === "teamViewerCloseFailed" ? "TeamViewer's side of the session could not be closed" : "The session failed"),
            ),
            h("p", null, s.failure.message),
            h("p", { class: "muted" }, `Code: ${s.failure.code}`),
          )
        : null,
      details([
        ["Device", `${s.device.deviceName} (${s.device.operatingSystem} ${s.device.osVersion})`],
        [
          "User",
          s.device.userDisplayName ? `${s.device.userDisplayName}${s.device.userPrincipalName ? ` (${s.device.userPrincipalName})` : ""}` : "No primary user",
        ],
        ["Requested by", `${s.requestedBy.displayName}${s.requestedBy.type === "automation" ? " (automation)" : ""}`],
        ["Requested", time(s.requestedAt)],
        ["Why", s.description],
        ["Ticket", s.ticketId ?? null],
        s.acknowledgedWarnings && s.acknowledgedWarnings.length > 0
          ? ["Acknowledged", "The device was not compliant; the requester chose to connect anyway"]
          : null,
        s.approval?.required
          ? [
              "Approval",
              s.approval.decision
                ? h(
                    "span",
                    null,
                    `${s.approval.decision.decision === "approved" ? "Approved" : "Denied"} by ${s.approval.decision.by.displayName} `,
                    time(s.approval.decision.at),
                    s.approval.decision.comment ? `: ${s.approval.decision.comment}` : "",
                  )
                : "Waiting for approval",
            ]
          : null,
        [
          "Notification",
          h(
            "span",
            { id: "notification-status" },
            notificationText[s.endUserNotification.status],
            s.endUserNotification.seenAt
              ? [" (", time(s.endUserNotification.seenAt), ")"]
              : s.endUserNotification.sentAt
                ? [" (", time(s.endUserNotification.sentAt), ")"]
                : null,
          ),
        ],
        [
          "User's answer",
          s.endUserResponse ? h("span", null, s.endUserResponse.response === "accepted" ? "Accepted " : "Declined ", time(s.endUserResponse.at)) : "None yet",
        ],
        s.closedAt ? ["Closed", h("span", null, time(s.closedAt), s.closedBy ? ` by ${s.closedBy.displayName}` : "")] : null,
        ["Session id", h("code", null, s.id)],
      ]),
      actions,
      connectionsSection(s),
      h("h3", null, "History"),
      h(
        "ol",
        { class: "history", id: "session-history" },
        s.history.map((e) => h("li", null, time(e.at), ` — ${statusText[e.status]}`, e.detail ? `: ${e.detail}` : "")),
      ),
    );
    onChange?.(s);
  };

  const act = async (button: HTMLButtonElement, busy: string, path: string, done: string): Promise<void> => {
    mount(actionResult);
    readProblemShown = false;
    await whileBusy(button, busy, async () => {
      try {
        await api.post(path);
        mount(actionResult, h("p", { class: "info" }, done));
        await refresh();
      } catch (e) {
        mount(actionResult, problemBox(e));
      }
    });
  };

  const refresh = async (): Promise<void> => {
    clearTimeout(timer);
    let delayMs = pollMs;
    try {
      const s = await api.get<Session>(`/sessions/${encodeURIComponent(sessionId)}`);
      // Re-render only on a change, so keyboard focus stays put while the panel polls.
      if (readProblemShown) mount(actionResult);
      readProblemShown = false;
      const key = JSON.stringify(s);
      if (key !== shown) {
        shown = key;
        render(s);
      }
    } catch (e) {
      const stopped = endsFollowing(e)
        ? h("p", { class: "muted", id: "session-polling-stopped" }, "Stopped following this session. Reload the page to look again.")
        : null;
      if (!current) mount(content, problemBox(e), stopped);
      else {
        mount(actionResult, problemBox(e), stopped);
        readProblemShown = true;
      }
      if (stopped) return;
      delayMs = nextPollMs(e, pollMs); // a 429 says when to come back
    }
    // Follow the session live until it ends, and a closed one until TeamViewer's side is closed too.
    if (ctx.left()) return;
    if (!current || openStatuses.includes(current.status)) timer = setTimeout(() => void refresh(), delayMs);
    else if (teamViewerStillClosing(current, Date.now())) timer = setTimeout(() => void refresh(), Math.max(delayMs, closingPollMs));
  };

  void refresh();
  return panel;
}

function copyButton(text: string): HTMLButtonElement {
  const b = h("button", { type: "button", class: "small" }, "Copy link");
  b.addEventListener("click", () => {
    void navigator.clipboard?.writeText(text).then(
      () => (b.textContent = "Copied"),
      () => (b.textContent = "Select the link and copy it"),
    );
  });
  return b;
}
