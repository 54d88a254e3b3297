// A session as TeamViewer sees it: the request that creates it, and the one routine that
// closes it there, used by the closing worker, the creation worker (an extra session) and
// the disconnect (which closes every open session while the token still works).
import { cutText, type Session, type TeamViewerDetails } from "../../domain/session.js";
import { isTeamViewerError } from "../teamViewerError.js";
import type { TeamViewerByTenant } from "../quota/teamViewerQuota.js";
import type { NewTeamViewerSession, TeamViewerSessionInfo, TeamViewerTokens } from "./ports.js";

/** What closing at TeamViewer needs: the token and the tenant's quota-guarded API. */
export interface TeamViewerAccess {
  readonly tokens: TeamViewerTokens;
  readonly teamViewer: TeamViewerByTenant;
}

/** TeamViewer group per tenant, learned from created sessions: narrows the custom_api lookup. */
export type TeamViewerGroupHints = Map<string, string>;

/** The TeamViewer group that holds a tenant's sessions (created by TeamViewer when missing). */
export const teamViewerGroupName = (tenantId: string): string => `Remote assistance ${tenantId}`;

/** The description TeamViewer shows the supporter: which device, who asked, and why. */
export function teamViewerDescription(s: Session): string {
  const os = [s.device.operatingSystem, s.device.osVersion].filter(Boolean).join(" ");
  const text =
    `Remote assistance for ${s.device.deviceName}${os ? ` (${os})` : ""}` +
    `${s.device.userDisplayName ? `, used by ${s.device.userDisplayName}` : ""}` +
    `, requested by ${s.requestedBy.displayName}${s.requestedBy.type === "automation" ? " (automation)" : ""}.` +
    `${s.description ? ` ${s.description}` : ""}`;
  return cutText(text, 4000);
}

export function teamViewerRequest(s: Session): NewTeamViewerSession {
  const email = s.endUser?.email && s.endUser.email.length <= 254 && s.endUser.email.includes("@") ? s.endUser.email : undefined;
  const name = s.endUser?.displayName ? cutText(s.endUser.displayName, 100) : undefined;
  return {
    groupName: teamViewerGroupName(s.tenantId),
    description: teamViewerDescription(s),
    ...(name || email ? { endCustomer: { ...(name ? { name } : {}), ...(email ? { email } : {}) } } : {}),
    // The end user has until the request expires to join; TeamViewer ends the session then too.
    validUntil: new Date(s.expiresAt),
    customApi: s.id,
  };
}

/** Closes one TeamViewer session by its code; a session TeamViewer no longer knows counts as closed. */
export async function closeCodeAtTeamViewer(at: TeamViewerAccess, tenantId: string, token: string, code: string): Promise<void> {
  try {
    await at.teamViewer.forTenant(tenantId).closeSession(token, code);
  } catch (e) {
    if (isTeamViewerError(e) && e.code === "notFound") return;
    throw e;
  }
}

/**
 * The open TeamViewer session carrying `customApi`: looked for in the group the process
 * learned, and when it is not there, in every group. That group can be out of date (deleted
 * at TeamViewer and made again, or the connector now signs in to another account), and a
 * session missed here would be created a second time, or left open by a close.
 */
export async function findByCustomApi(
  at: TeamViewerAccess,
  tenantId: string,
  token: string,
  customApi: string,
  groupHint: string | undefined,
): Promise<TeamViewerSessionInfo | undefined> {
  const api = at.teamViewer.forTenant(tenantId);
  const found = await api.findOpenSessionByCustomApi(token, customApi, groupHint);
  return found || groupHint === undefined ? found : api.findOpenSessionByCustomApi(token, customApi);
}

/**
 * Closes the session's TeamViewer session: the one it saved, else (when an attempt to
 * create was made, which may have reached TeamViewer) the one found by its custom_api.
 * Answers what was closed, or undefined when TeamViewer has nothing for it. Works while
 * the connector is being disconnected. TeamViewer errors propagate.
 */
export async function closeAtTeamViewer(at: TeamViewerAccess, s: Session, groupHint?: string): Promise<TeamViewerSessionInfo | undefined> {
  return at.tokens.withAccessToken(
    s.tenantId,
    async (token) => {
      let info: TeamViewerSessionInfo | undefined = s.teamViewer
        ? { code: s.teamViewer.code, groupId: s.teamViewer.groupId, supporterLink: s.teamViewer.supporterLink }
        : undefined;
      // No code saved, but an attempt was made: TeamViewer may have a session anyway.
      if (!info && s.worker.createAttempts > 0) info = await findByCustomApi(at, s.tenantId, token, s.id, groupHint);
      if (!info) return undefined;
      await closeCodeAtTeamViewer(at, s.tenantId, token, info.code);
      return info;
    },
    { requireOnboarded: false },
  );
}

/** The session's TeamViewer details once `info` was closed at `now` (what was saved before wins). */
export function closedTeamViewerDetails(s: Session, info: TeamViewerSessionInfo, now: Date): TeamViewerDetails {
  return {
    code: info.code,
    supporterLink: s.teamViewer?.supporterLink ?? info.supporterLink ?? "",
    validUntil: s.teamViewer?.validUntil ?? (info.validUntil ?? new Date(s.expiresAt)).toISOString(),
    groupId: info.groupId,
    closedAt: now.toISOString(),
  };
}
