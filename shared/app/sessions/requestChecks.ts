// The checks every session request passes, in this order, whoever asks: permission and
// scope, the tenant's ticket rule, the connector, eligibility, and acknowledged warnings.
// Pure: the caller reads what they need and decides what a refusal becomes.
import { complianceWarningOf, type Device } from "../../domain/device.js";
import { DomainError, errorCodes, forbidden, notFound } from "../../domain/errors.js";
import { eligibilityReasonText, evaluateEligibility, type Eligibility } from "../../domain/eligibility.js";
import { inScope, type Scope } from "../../domain/permissions.js";
import type { TenantSettings } from "../../domain/tenantSettings.js";
import { sessionFailureCodes, type SessionFailure } from "../../domain/session.js";

/** What every request says besides the device, whoever asks. */
export interface Ask {
  readonly ticketId?: string;
  readonly acknowledgeWarnings?: readonly string[];
}

export const connectorNotOnboardedDetail =
  "The TeamViewer connector is not onboarded for this tenant. An admin with Update Remote Assistance must connect it first.";

/** Where the requester may request and read; a user's Permissions or an automation's scope. */
export interface RequesterScope {
  readonly request?: Scope;
  readonly read?: Scope;
}

export type Checked =
  /** `acknowledged`: the warnings the request acknowledged that applied (recorded on the session). */
  | { readonly ok: true; readonly device: Device; readonly eligibility: Eligibility; readonly acknowledged: readonly string[] }
  /** `failure`: what a queue request records as a failed session; absent = refused without one. */
  | { readonly ok: false; readonly error: DomainError; readonly failure?: SessionFailure };

/** The checks every request passes, in this order, whoever asks. */
export function check(who: "user" | "app", scope: RequesterScope, device: Device | undefined, onboarded: boolean, settings: TenantSettings, ask: Ask): Checked {
  if (!scope.request) {
    return {
      ok: false,
      error: forbidden(
        who === "user"
          ? "Requesting remote assistance needs the Request Remote Assistance permission."
          : "This app's role assignments give it no Request Remote Assistance permission.",
      ),
    };
  }
  if (!device) {
    return {
      ok: false,
      error: notFound("The device"),
      failure: { code: sessionFailureCodes.deviceNotFound, message: "No device with this id is known to the service (it may not have been synced yet)." },
    };
  }
  // A device outside what the requester may read is as good as absent (no existence leak);
  // one it may read but not request for is a plain "no".
  if (!inScope(scope.read, device.roleScopeTagIds)) return { ok: false, error: notFound("The device") };
  if (!inScope(scope.request, device.roleScopeTagIds)) {
    return {
      ok: false,
      error: forbidden(
        `This device is outside the scope of ${who === "user" ? "your" : "this app's"} Request Remote Assistance permission (its scope tags are not among those of ${who === "user" ? "your" : "its"} role assignments).`,
      ),
    };
  }
  if (settings.requireTicketId && !ask.ticketId) {
    const detail = "This tenant requires a ticket id with every remote assistance request: name the help-desk ticket in ticketId.";
    return {
      ok: false,
      error: new DomainError(errorCodes.validationFailed, detail, {
        errors: [{ path: who === "user" ? "body.ticketId" : "body.data.ticketId", message: "required by this tenant" }],
      }),
      failure: { code: sessionFailureCodes.ticketIdRequired, message: detail },
    };
  }
  if (!onboarded) {
    return {
      ok: false,
      error: new DomainError(errorCodes.connectorNotOnboarded, connectorNotOnboardedDetail),
      failure: { code: sessionFailureCodes.connectorNotOnboarded, message: connectorNotOnboardedDetail },
    };
  }
  const eligibility = evaluateEligibility(device, settings);
  if (!eligibility.eligible) {
    return {
      ok: false,
      error: new DomainError(errorCodes.deviceNotEligible, eligibilityReasonText[eligibility.reason], { extensions: { reason: eligibility.reason } }),
      failure: { code: sessionFailureCodes.deviceNotEligible, message: `${eligibility.reason}: ${eligibilityReasonText[eligibility.reason]}` },
    };
  }
  const warning = complianceWarningOf(device);
  if (warning && !(ask.acknowledgeWarnings ?? []).includes(warning)) {
    const detail = `Intune reports this device as not compliant (complianceState ${device.complianceState}). Send acknowledgeWarnings: ["${warning}"] to connect anyway.`;
    return {
      ok: false,
      error: new DomainError(errorCodes.acknowledgementRequired, detail, { extensions: { warnings: [warning] } }),
      failure: { code: sessionFailureCodes.acknowledgementRequired, message: detail },
    };
  }
  return { ok: true, device, eligibility, acknowledged: warning ? [warning] : [] };
}

/** The answer to a request for a device that already has an open session. */
export function deviceBusy(existingSessionId: string): DomainError {
  return new DomainError(errorCodes.conflict, "This device already has an open remote assistance session. Use it, or close it before requesting another.", {
    extensions: { existingSessionId },
  });
}
