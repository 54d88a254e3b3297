// What every page gets: the API client, the signed-in user and their rights, navigation,
// and a way to stop its timers when the reader leaves the page.
import type { ApiClient } from "./api.js";
import type { AuthProvider, SignedInUser } from "./auth/authProvider.js";
import type { PortalConfig } from "./config.js";
import type { UiPermissions } from "./permissions.js";

export interface AppContext {
  readonly config: PortalConfig;
  readonly api: ApiClient;
  readonly auth: AuthProvider;
  readonly user: SignedInUser;
  readonly perms: UiPermissions;
}

export interface PageContext {
  readonly app: AppContext;
  /** Path parameters, e.g. `{ deviceId }` for `/devices/:deviceId`. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The page's container (inside <main>). */
  readonly root: HTMLElement;
  /** Registers clean-up (timers) for when the reader navigates away. */
  onLeave(cleanup: () => void): void;
  /** True once the reader has left this page (stop polling). */
  readonly left: () => boolean;
  /** Goes to another page (`#/devices?...`). */
  navigate(path: string, query?: Record<string, string | undefined>): void;
  /** Sets the query of the current page without re-rendering it (keeps filters in the address). */
  replaceQuery(query: Record<string, string | undefined>): void;
}

export type Page = (ctx: PageContext) => Promise<void> | void;

export function hashFor(path: string, query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") q.set(k, v);
  const qs = q.toString();
  return `#${path}${qs ? `?${qs}` : ""}`;
}
