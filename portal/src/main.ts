// The portal's entry: reads config.json, signs the user in, and routes `#/…` addresses
// to pages inside one layout (header, navigation, main). No framework: plain DOM.
import { ApiClient, problemBox, type ApiProblem } from "./api.js";
import type { AuthProvider, SignedInUser } from "./auth/authProvider.js";
import { EntraAuth } from "./auth/entraAuth.js";
import { LocalAuth } from "./auth/localAuth.js";
import { readPortalConfig, type PortalConfig } from "./config.js";
import { hashFor, type AppContext, type Page, type PageContext } from "./context.js";
import { h, mount, progress } from "./dom.js";
import { match } from "./routeMatch.js";
import { describeRights, resolvePermissions, type UiPermissions } from "./permissions.js";
import { auditPage } from "./pages/audit.js";
import { companyPortalPage } from "./pages/companyPortal.js";
import { connectorPage } from "./pages/connector.js";
import { devicePage } from "./pages/device.js";
import { devicesPage } from "./pages/devices.js";
import { reportsPage } from "./pages/reports.js";
import { sessionPage, sessionsPage } from "./pages/sessions.js";
import { approvalsPage } from "./pages/approvals.js";
import { permissionsProblem } from "./pages/permissionsProblem.js";
import { settingsPage } from "./pages/settings.js";
import { signInPage } from "./pages/signIn.js";

interface Route {
  readonly pattern: string;
  readonly title: string;
  readonly page: Page;
  /** Shown in the navigation (and expected to work) for users with these rights. */
  readonly allowed: (p: UiPermissions) => boolean;
  readonly nav?: string;
}

const routes: readonly Route[] = [
  { pattern: "/connector", title: "TeamViewer connector", page: connectorPage, allowed: (p) => p.read, nav: "Connector" },
  { pattern: "/devices", title: "All devices", page: devicesPage, allowed: (p) => p.read, nav: "Devices" },
  { pattern: "/devices/:deviceId", title: "Device", page: devicePage, allowed: (p) => p.read },
  { pattern: "/sessions", title: "Sessions", page: sessionsPage, allowed: (p) => p.read, nav: "Sessions" },
  { pattern: "/sessions/:sessionId", title: "Session", page: sessionPage, allowed: (p) => p.read },
  { pattern: "/approvals", title: "Approvals", page: approvalsPage, allowed: (p) => p.approve === true, nav: "Approvals" },
  { pattern: "/reports", title: "Reports", page: reportsPage, allowed: (p) => p.read, nav: "Reports" },
  { pattern: "/audit", title: "Audit log", page: auditPage, allowed: (p) => p.reports, nav: "Audit log" },
  { pattern: "/settings", title: "Settings", page: settingsPage, allowed: (p) => p.administrator, nav: "Settings" },
  { pattern: "/company-portal", title: "Company Portal", page: companyPortalPage, allowed: () => true, nav: "Company Portal" },
];

function parseHash(): { path: string; query: URLSearchParams } {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, qs] = raw.split("?", 2);
  return { path: path || "/", query: new URLSearchParams(qs ?? "") };
}

class Portal {
  readonly #config: PortalConfig;
  readonly #auth: AuthProvider;
  readonly #api: ApiClient;
  readonly #main: HTMLElement;
  readonly #header: HTMLElement;
  #perms: { user: SignedInUser; perms: UiPermissions } | undefined;
  #leave: (() => void)[] = [];
  #left = { value: false };
  #first = true;
  #expired = false;
  /** Why the last sign-in failed (Entra ID's answer), shown once on the sign-in page. */
  #signInProblem: ApiProblem | undefined;

  constructor(config: PortalConfig, auth: AuthProvider, root: HTMLElement, signInProblem?: ApiProblem) {
    this.#config = config;
    this.#auth = auth;
    this.#signInProblem = signInProblem;
    // A 401 the client could not mend by renewing the token once: sign in again, then come back here.
    this.#api = new ApiClient(
      config.apiBaseUrl,
      (options) => this.#auth.accessToken(options),
      () => {
        this.#auth.signOut();
        this.#perms = undefined;
        this.#expired = true;
        void this.route();
      },
    );
    this.#header = h("header", { class: "top" });
    this.#main = h("main", { id: "main", tabindex: "-1" });
    mount(
      root,
      h("a", { class: "skip-link", href: "#main", onclick: (e: Event) => (e.preventDefault(), this.#main.focus()) }, "Skip to content"),
      this.#header,
      this.#main,
    );
    window.addEventListener("hashchange", () => void this.route());
  }

  async route(): Promise<void> {
    for (const f of this.#leave) f();
    this.#leave = [];
    this.#left.value = true;
    const left = { value: false };
    this.#left = left;

    const { path, query } = parseHash();
    const user = this.#auth.current();
    if (!user) {
      this.#perms = undefined;
      this.#renderHeader(undefined);
      document.title = "Sign in – Remote Assistance Connector";
      const next = path === "/sign-in" ? (query.get("next") ?? "/") : `${path}${query.size > 0 ? `?${query}` : ""}`;
      const notice = { expired: this.#expired, problem: this.#signInProblem };
      this.#expired = false;
      this.#signInProblem = undefined;
      signInPage(this.#main, this.#auth, { ...notice, next }, () => {
        window.location.hash = next;
        void this.route();
      });
      return;
    }
    if (!this.#perms || this.#perms.user.userId !== user.userId || this.#perms.user.tenantId !== user.tenantId) {
      mount(this.#main, progress("Checking your permissions"));
      try {
        this.#perms = { user, perms: await resolvePermissions(this.#api) };
      } catch (e) {
        // A 401 has already sent the reader to the sign-in page (a newer route): leave it there.
        if (!left.value) {
          permissionsProblem(
            this.#main,
            e,
            () => void this.route(),
            () => {
              this.#auth.signOut();
              window.location.hash = "#/sign-in";
              void this.route();
            },
          );
        }
        return;
      }
      if (left.value) return;
    }
    const perms = this.#perms.perms;
    this.#renderHeader({ user, perms });

    if (path === "/" || path === "/sign-in") {
      window.location.replace(hashFor(perms.read ? "/connector" : "/company-portal"));
      return;
    }
    const found = routes.map((r) => ({ r, params: match(r.pattern, path) })).find((x) => x.params !== undefined);
    const root = h("div", { class: "page" });
    if (!found) {
      mount(this.#main, h("h1", { tabindex: "-1" }, "Page not found"), h("p", null, h("a", { href: "#/" }, "Go to the start page")));
      return;
    }
    document.title = `${found.r.title} – Remote Assistance Connector`;
    const notAllowed = !found.r.allowed(perms)
      ? h("p", { class: "warning", id: "no-permission" }, "Your account has no permission for this page. The service's answer is shown below.")
      : null;
    mount(this.#main, notAllowed, root);
    this.#markNav(found.r);
    const app: AppContext = { config: this.#config, api: this.#api, auth: this.#auth, user, perms };
    const ctx: PageContext = {
      app,
      params: found.params ?? {},
      query,
      root,
      onLeave: (f) => this.#leave.push(f),
      left: () => left.value,
      navigate: (p, q) => {
        window.location.hash = hashFor(p, q);
      },
      replaceQuery: (q) => {
        history.replaceState(history.state, "", hashFor(path, { ...Object.fromEntries(query), ...q }));
      },
    };
    try {
      await found.r.page(ctx);
    } catch (e) {
      if (!left.value) root.append(problemBox(e));
    }
    // After a navigation, move focus to the new page's heading so screen readers announce it.
    if (!left.value && !this.#first) {
      const heading = root.querySelector<HTMLElement>("h1");
      if (heading && !root.contains(document.activeElement)) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    }
    this.#first = false;
  }

  #markNav(route: Route): void {
    const base = route.pattern.split("/")[1];
    for (const a of this.#header.querySelectorAll<HTMLAnchorElement>("nav a")) {
      if (a.dataset.section === base) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  #renderHeader(signedIn: { user: SignedInUser; perms: UiPermissions } | undefined): void {
    const brand = h("a", { class: "brand", href: "#/" }, "Remote Assistance Connector");
    if (!signedIn) {
      mount(this.#header, brand);
      return;
    }
    const signOut = h("button", { type: "button", id: "sign-out", class: "small" }, "Sign out");
    signOut.addEventListener("click", () => {
      this.#auth.signOut();
      this.#perms = undefined;
      window.location.hash = "#/sign-in";
    });
    mount(
      this.#header,
      brand,
      h(
        "nav",
        { "aria-label": "Main" },
        h(
          "ul",
          null,
          routes
            .filter((r) => r.nav && r.allowed(signedIn.perms))
            .map((r) => h("li", null, h("a", { href: hashFor(r.pattern), "data-section": r.pattern.split("/")[1] }, r.nav ?? ""))),
        ),
      ),
      h(
        "div",
        { class: "who" },
        h(
          "span",
          { class: "identity" },
          h("span", { id: "signed-in-user" }, signedIn.user.name),
          h("span", { class: "muted", id: "signed-in-rights", title: describeRights(signedIn.perms) }, describeRights(signedIn.perms)),
        ),
        signOut,
      ),
    );
  }
}

/** The page when the portal cannot start: the product's name and the problem in plain words. */
function cannotStart(root: HTMLElement, why: (detail: string) => string, e: unknown): void {
  mount(root, h("main", null, h("h1", null, "Remote Assistance Connector"), problemBox(new Error(why(e instanceof Error ? e.message : String(e))))));
}

async function start(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  let config: PortalConfig;
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (!res.ok) throw new Error(`config.json answered ${res.status}`);
    const read = readPortalConfig(await res.json());
    if ("problems" in read) throw new Error(`config.json: ${read.problems.join("; ")}`);
    config = read.config;
  } catch (e) {
    cannotStart(root, (detail) => `The portal's configuration could not be read (${detail}). Locally, npm start writes it; in Azure, see docs/deploy.md.`, e);
    return;
  }
  let auth: AuthProvider;
  let problem: ApiProblem | undefined;
  if (config.auth.kind === "local") {
    auth = new LocalAuth(config.auth);
  } else {
    mount(root, h("main", null, progress("Signing in with Microsoft Entra ID")));
    try {
      const started = await EntraAuth.start(config.auth);
      auth = started.auth;
      problem = started.problem;
      if (started.returnTo) history.replaceState(history.state, "", `#${started.returnTo}`);
    } catch (e) {
      cannotStart(root, (detail) => `Microsoft Entra ID sign-in could not start (${detail}). Check the auth section of config.json (docs/deploy.md).`, e);
      return;
    }
  }
  await new Portal(config, auth, root, problem).route();
}

void start();
