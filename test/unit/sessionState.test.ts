import { describe, expect, it } from "vitest";
import { canTransition, sessionEvents, sessionStatuses, transition, type SessionEvent, type SessionStatus } from "../../shared/domain/sessionState.js";

const allowed: Record<string, SessionStatus> = {
  "pendingApproval+approve": "requested",
  "pendingApproval+deny": "denied",
  "pendingApproval+expire": "expired",
  "pendingApproval+fail": "failed",
  "pendingApproval+close": "closed",
  "requested+teamViewerSessionCreated": "awaitingEndUser",
  "awaitingEndUser+endUserAccepted": "accepted",
  "awaitingEndUser+endUserDeclined": "declined",
  "requested+expire": "expired",
  "awaitingEndUser+expire": "expired",
  "requested+fail": "failed",
  "awaitingEndUser+fail": "failed",
  "accepted+fail": "failed",
  "requested+close": "closed",
  "awaitingEndUser+close": "closed",
  "accepted+close": "closed",
};

const cases = sessionStatuses.flatMap((from) => sessionEvents.map((event) => ({ from, event, to: allowed[`${from}+${event}`] })));

describe("session state machine", () => {
  it.each(cases)("$from + $event → $to", ({ from, event, to }: { from: SessionStatus; event: SessionEvent; to?: SessionStatus }) => {
    if (to) {
      expect(canTransition(from, event)).toBe(true);
      expect(transition(from, event)).toBe(to);
    } else {
      expect(canTransition(from, event)).toBe(false);
      expect(() => transition(from, event)).toThrow(expect.objectContaining({ code: "conflict" }) as Error);
    }
  });

  it("covers the documented happy path", () => {
    let s: SessionStatus = "requested";
    for (const e of ["teamViewerSessionCreated", "endUserAccepted", "close"] as const) s = transition(s, e);
    expect(s).toBe("closed");
  });

  it("holds a request that needs approval until someone decides", () => {
    expect(transition(transition("pendingApproval", "approve"), "teamViewerSessionCreated")).toBe("awaitingEndUser");
    expect(transition("pendingApproval", "deny")).toBe("denied");
    expect(canTransition("pendingApproval", "teamViewerSessionCreated")).toBe(false);
    expect(canTransition("denied", "approve")).toBe(false);
  });
});
