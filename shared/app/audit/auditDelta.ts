// GET /api/auditEvents/delta: the tenant's audit stream in recorded order, resumable from
// an opaque token naming the last sequence number returned (see the stream's adapter for
// why that is exactly once).
import type { UserCaller } from "../../domain/caller.js";
import { decodeDeltaToken, encodeDeltaToken, maxDeltaEvents } from "../../domain/auditExport.js";
import { DomainError, errorCodes } from "../../domain/errors.js";
import { requireReports, type Permissions } from "../../domain/permissions.js";
import type { Access } from "../access.js";
import type { AuditEvent, AuditStream } from "./auditLog.js";

/** The audit log's permission (reports): Intune.Administrator or tenant-wide RemoteAssistance.ViewReports. Answers the caller's permissions. */
export async function requireAuditReader(access: Access, caller: UserCaller): Promise<Permissions> {
  const permissions = await access.permissionsOf(caller);
  requireReports(permissions);
  return permissions;
}

export class AuditDelta {
  readonly #access: Access;
  readonly #stream: AuditStream;
  constructor(deps: { access: Access; stream: AuditStream }) {
    this.#access = deps.access;
    this.#stream = deps.stream;
  }

  async read(caller: UserCaller, deltaToken: string | undefined): Promise<{ value: AuditEvent[]; deltaToken: string }> {
    await requireAuditReader(this.#access, caller);
    const after = decodeDeltaToken(deltaToken, caller.tenantId);
    // A token from the future was not issued by us (numbers only grow): refuse it rather than skip events.
    if (after > 0 && after > (await this.#stream.last(caller.tenantId))) {
      throw new DomainError(errorCodes.validationFailed, "The delta token is not valid.", {
        errors: [{ path: "query.deltaToken", message: "not a delta token this API issued for your tenant" }],
      });
    }
    const events = await this.#stream.readAfter(caller.tenantId, after, maxDeltaEvents);
    const last = events.at(-1)?.sequence ?? after;
    return { value: events.map((e) => e.event), deltaToken: encodeDeltaToken(caller.tenantId, last) };
  }
}
