// Local sign-in: pick a seeded demo user; the identity emulator (POST /token) issues a
// signed dev token with their claims. The token lives in sessionStorage (this tab only).
import type { DemoUserConfig, LocalAuthConfig } from "../config.js";
import { ApiProblem } from "../api.js";
import { userFromToken, type AuthProvider, type SignedInUser } from "./authProvider.js";

const storageKey = "rac.portal.token";

export class LocalAuth implements AuthProvider {
  readonly kind = "local" as const;
  readonly #config: LocalAuthConfig;

  constructor(config: LocalAuthConfig) {
    this.#config = config;
  }

  get users(): readonly DemoUserConfig[] {
    return this.#config.users;
  }

  #stored(): { token: string; user: SignedInUser; expiresAt: number } | undefined {
    const token = sessionStorage.getItem(storageKey);
    if (!token) return undefined;
    try {
      const { user, expiresAt } = userFromToken(token);
      if (expiresAt <= Date.now() + 30_000) {
        sessionStorage.removeItem(storageKey);
        return undefined;
      }
      return { token, user, expiresAt };
    } catch {
      sessionStorage.removeItem(storageKey);
      return undefined;
    }
  }

  current(): SignedInUser | undefined {
    return this.#stored()?.user;
  }

  async accessToken(options?: { readonly instead?: string }): Promise<string | undefined> {
    // A demo user's token is renewed only by signing in again (the reader picks the user).
    const token = this.#stored()?.token;
    return token === options?.instead ? undefined : token;
  }

  async signIn(userKey: string): Promise<SignedInUser> {
    const demo = this.#config.users.find((u) => u.key === userKey);
    if (!demo) throw new ApiProblem({ title: "Unknown demo user", detail: `There is no demo user "${userKey}".` });
    let res: Response;
    try {
      res = await fetch(`${this.#config.identityUrl.replace(/\/$/, "")}/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...demo.claims, expiresInSeconds: 8 * 3600 }),
      });
    } catch {
      throw new ApiProblem({ title: "The identity emulator could not be reached", detail: `Is the local stack running? (${this.#config.identityUrl})` });
    }
    if (!res.ok) throw new ApiProblem({ title: "Sign-in failed", status: res.status, detail: await res.text() });
    const { access_token: token } = (await res.json()) as { access_token: string };
    sessionStorage.setItem(storageKey, token);
    return userFromToken(token).user;
  }

  signOut(): void {
    sessionStorage.removeItem(storageKey);
  }
}
