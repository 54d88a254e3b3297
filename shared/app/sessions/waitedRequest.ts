// What the creation worker checks again before a request goes on to TeamViewer and its end
// user: what may have changed since the request was checked (requestChecks.ts). A request can
// wait for a day for approval, and minutes or hours for the TeamViewer quota or a retry.
import { deviceChangedSinceRequest } from "../../domain/device.js";
import type { Session } from "../../domain/session.js";
import type { DeviceDirectory } from "./ports.js";
import { needsApprovalFor } from "./newSession.js";

/** A request older than this is checked against its device again (one read); younger ones were checked at request time. */
const deviceRecheckAfterMs = 60_000;

export interface WaitedRequestDeps {
  /** Read only for a request that waited (for approval, or over a minute): its device may have gone meanwhile. */
  readonly devices: DeviceDirectory;
  /** The tenant's approvalRequiredScopeTags as they are now. */
  readonly approvalScopeTags: (tenantId: string) => Promise<readonly string[]>;
}

/** Why the request may no longer go on (a sentence), or undefined when it may. */
export async function changedSinceRequest(s: Session, now: Date, deps: WaitedRequestDeps): Promise<string | undefined> {
  // A request that waited may find its device removed (retired, perhaps wiped and handed on)
  // or given to another user: then no session.
  const waited = s.approval?.required || now.getTime() - Date.parse(s.requestedAt) > deviceRecheckAfterMs;
  const device = waited ? await deps.devices.get(s.tenantId, s.deviceId) : undefined;
  const changed = deviceChangedSinceRequest(s, device);
  if (changed || s.approval?.required) return changed;
  // One that needed no approval must not take control of a device that needs it now: the
  // device moved into a tag that needs approval (the session's tags follow it), or the tenant
  // added one of its tags to the rule. The tenant's settings are kept for the quota anyway.
  const tags = device?.roleScopeTagIds ?? s.device.scopeTags;
  if (needsApprovalFor(tags, await deps.approvalScopeTags(s.tenantId))) {
    return "The device came to need a second person's approval (one of its scope tags is in the tenant's approvalRequiredScopeTags)";
  }
  return undefined;
}
