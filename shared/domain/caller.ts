// Who is calling: an authenticated user (from the bearer token) or automation (a queue event).

export const appRoles = {
  update: "RemoteAssistance.Update",
  request: "RemoteAssistance.Request",
  administrator: "Intune.Administrator",
} as const;
export type AppRole = (typeof appRoles)[keyof typeof appRoles];

export interface UserCaller {
  readonly type: "user";
  readonly tenantId: string;
  readonly userId: string;
  readonly displayName: string;
  readonly userPrincipalName?: string;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
}

export interface AutomationCaller {
  readonly type: "automation";
  readonly tenantId: string;
  readonly userId: string;
  readonly displayName: string;
}

export type Caller = UserCaller | AutomationCaller;

export interface Actor {
  readonly id: string;
  readonly displayName: string;
  readonly type: "user" | "automation" | "system";
}

export const actorOf = (caller: Caller): Actor => ({ id: caller.userId, displayName: caller.displayName, type: caller.type });
export const systemActor: Actor = { id: "system", displayName: "Remote Assistance Connector", type: "system" };
