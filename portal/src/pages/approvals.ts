// Approvals: the requests waiting for a second person's approval (devices the tenant tagged
// for approval), for principals with Approve Remote Assistance. Approve sends the request
// on to TeamViewer and the end user; deny ends it. One's own requests cannot be decided.
import { problemBox, type List } from "../api.js";
import { hashFor, type PageContext } from "../context.js";
import { h, mount, progress, time, whileBusy } from "../dom.js";
import type { Session } from "../types.js";

/** Pages of the queue read at most (100 requests each). */
const maxPages = 10;

export async function approvalsPage(ctx: PageContext): Promise<void> {
  const { api, user } = ctx.app;
  const results = h("div", { id: "approval-results", "aria-live": "polite" }, progress("Loading requests waiting for approval"));
  const done = h("div", { id: "approval-result", "aria-live": "polite" });
  mount(
    ctx.root,
    h("h1", null, "Approvals"),
    h(
      "p",
      null,
      "Requests for devices your organization marked as sensitive wait here until someone other than the requester approves or denies them. Nothing is created at TeamViewer before that.",
    ),
    done,
    results,
  );

  const card = (s: Session): HTMLElement => {
    const own = s.requestedBy.id === user.userId;
    const comment = h("input", { type: "text", maxlength: "500", id: `comment-${s.id}`, class: "wide" });
    const out = h("div", { "aria-live": "polite" });
    const decide = (button: HTMLButtonElement, kind: "approve" | "deny"): void => {
      mount(out);
      void whileBusy(button, kind === "approve" ? "Approving" : "Denying", async () => {
        try {
          const text = comment.value.trim();
          await api.post<Session>(`/sessions/${encodeURIComponent(s.id)}/${kind}`, text ? { comment: text } : {});
          mount(
            done,
            h(
              "p",
              { class: "info" },
              `${kind === "approve" ? "Approved" : "Denied"} the request for ${s.device.deviceName}.`,
              kind === "approve" ? [" ", h("a", { href: hashFor(`/sessions/${s.id}`) }, "Follow the session")] : null,
            ),
          );
          await load();
        } catch (e) {
          mount(out, problemBox(e));
        }
      });
    };
    const approve = h("button", { type: "button", class: "primary approve", disabled: own }, "Approve");
    const deny = h("button", { type: "button", class: "danger deny", disabled: own }, "Deny");
    approve.addEventListener("click", () => decide(approve, "approve"));
    deny.addEventListener("click", () => decide(deny, "deny"));
    return h(
      "article",
      { class: "panel approval", "data-session-id": s.id, "aria-labelledby": `approval-${s.id}` },
      h("h2", { id: `approval-${s.id}` }, `${s.requestedBy.displayName} asks to connect to ${s.device.deviceName}`),
      h("p", null, "Requested ", time(s.requestedAt), s.device.userDisplayName ? ` — the device's user is ${s.device.userDisplayName}` : ""),
      s.ticketId ? h("p", null, h("strong", null, "Ticket: "), s.ticketId) : null,
      s.description ? h("p", null, h("strong", null, "Why: "), s.description) : null,
      s.acknowledgedWarnings && s.acknowledgedWarnings.length > 0
        ? h("p", { class: "warning" }, "The device is not compliant; the requester chose to connect anyway.")
        : null,
      own
        ? h("p", { class: "muted" }, "This is your own request: someone else must decide it.")
        : h("div", { class: "field" }, h("label", { for: `comment-${s.id}` }, "Comment (optional)"), comment),
      h("div", { class: "actions" }, approve, deny),
      out,
    );
  };

  // The queue may come in several pages, and the API bounds what one page reads, so pages may be
  // short or empty and still name a next one: a request left off would expire undecided.
  let waiting: Session[] = [];
  /** Reads up to `maxPages` pages from `from` (undefined: the start) and shows every request read. */
  const read = async (from: string | undefined): Promise<void> => {
    let token = from;
    for (let page = 0; page < maxPages; page++) {
      const list: List<Session> = await api.get<List<Session>>("/sessions", { status: "pendingApproval", top: 100, continuationToken: token });
      waiting.push(...list.value);
      token = list.continuationToken;
      if (!token) break;
    }
    // Still a token after the last page read: the queue was not read to its end. Reading on goes
    // on from there (reading from the start again would meet the same pages).
    let leftOff: HTMLElement | null = null;
    if (token) {
      const further = h("button", { type: "button", id: "approvals-read-further" }, "Look for more requests");
      const rest = token;
      further.addEventListener("click", () => void whileBusy(further, "Looking", () => show(read(rest))));
      leftOff = h(
        "div",
        { class: "warning" },
        h(
          "p",
          null,
          waiting.length === 0
            ? "None found so far, but the queue was not read to its end: requests may be waiting further on."
            : `More requests may be waiting than the ${waiting.length} shown: the queue was not read to its end.`,
        ),
        further,
      );
    }
    mount(results, waiting.length === 0 && !token ? h("p", { class: "empty" }, "No requests are waiting for approval.") : [...waiting.map(card), leftOff]);
  };
  const show = async (reading: Promise<void>): Promise<void> => {
    try {
      await reading;
    } catch (e) {
      mount(results, problemBox(e));
    }
  };
  const load = (): Promise<void> => {
    waiting = [];
    return show(read(undefined));
  };
  await load();
}
