// How the portal signs users in. Locally the identity emulator issues tokens for demo
// users (localAuth.ts); in Azure, Microsoft Entra ID (entraAuth.ts). Pages only see this.

export interface SignedInUser {
  readonly tenantId: string;
  readonly userId: string;
  readonly name: string;
  readonly userPrincipalName: string;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
}

export interface AuthProvider {
  readonly kind: "local" | "entra";
  /** The signed-in user, or undefined. */
  current(): SignedInUser | undefined;
  /**
   * A bearer token for the API; undefined when nobody is signed in (or the token has expired).
   * `instead`: a token other than this one, which the API refused; undefined when none can be
   * had without signing in again.
   */
  accessToken(options?: { readonly instead?: string }): Promise<string | undefined>;
  signOut(): void;
}

/** The claims the API reads, from a JWT's payload (no verification: the API verifies). */
export function userFromToken(token: string): { user: SignedInUser; expiresAt: number } {
  const part = token.split(".")[1] ?? "";
  const json = atob(
    part
      .replace(/-/g, "+")
      .replace(/_/g, "/")
      .padEnd(Math.ceil(part.length / 4) * 4, "="),
  );
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  const claims = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  return {
    user: {
      tenantId: str(claims.tid),
      userId: str(claims.oid),
      name: str(claims.name) || str(claims.preferred_username),
      userPrincipalName: str(claims.preferred_username),
      roles: strings(claims.roles),
      groups: strings(claims.groups),
    },
    expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : Date.now() + 3_600_000,
  };
}
