// Sign-in. Locally: pick one of the seeded demo users (the identity emulator issues the
// token). In Azure: Microsoft Entra ID (see auth/entraAuth.ts), by redirect.
import { problemBox, type ApiProblem } from "../api.js";
import { EntraAuth } from "../auth/entraAuth.js";
import { LocalAuth } from "../auth/localAuth.js";
import type { AuthProvider } from "../auth/authProvider.js";
import { h, mount, whileBusy } from "../dom.js";

export interface SignInNotice {
  /** The API refused the token (expired or revoked). */
  readonly expired: boolean;
  /** The last sign-in attempt failed (Entra ID's answer). */
  readonly problem?: ApiProblem;
  /** The portal address to come back to. */
  readonly next: string;
}

export function signInPage(root: HTMLElement, auth: AuthProvider, { expired, problem, next }: SignInNotice, done: () => void): void {
  const out = h("div", { "aria-live": "polite" }, problem ? problemBox(problem) : null);
  const notice = expired
    ? h("p", { class: "warning", role: "alert" }, "Your sign-in has expired or was refused by the service. Sign in again to go on.")
    : null;
  if (auth instanceof LocalAuth) {
    const choices = auth.users.map((u, i) =>
      h(
        "li",
        null,
        h("input", { type: "radio", name: "user", id: `user-${u.key}`, value: u.key, checked: i === 0 }),
        h(
          "label",
          { for: `user-${u.key}` },
          h("strong", null, u.claims.name),
          ` — ${u.label}`,
          h("br"),
          h("span", { class: "muted" }, u.claims.preferred_username, u.claims.roles.length > 0 ? ` · roles: ${u.claims.roles.join(", ")}` : " · no app roles"),
        ),
      ),
    );
    const button = h("button", { type: "submit", class: "primary", id: "sign-in" }, "Sign in");
    const form = h(
      "form",
      { class: "panel sign-in" },
      h("fieldset", null, h("legend", null, "Choose a demo user"), h("ul", { class: "choices" }, choices)),
      h("div", { class: "actions" }, button),
      out,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const picked = form.querySelector<HTMLInputElement>("input[name=user]:checked");
      if (!picked) return;
      mount(out);
      void whileBusy(button, "Signing in", async () => {
        try {
          await auth.signIn(picked.value);
        } catch (e) {
          mount(out, problemBox(e));
          return;
        }
        done();
      });
    });
    mount(
      root,
      h("h1", { tabindex: "-1" }, "Sign in"),
      notice,
      h("p", null, "Local development: the identity emulator signs you in as one of the demo tenant's users."),
      form,
    );
    return;
  }
  const button = h("button", { type: "button", class: "primary", id: "sign-in" }, "Sign in with Microsoft");
  button.addEventListener("click", () => {
    mount(out);
    void whileBusy(button, "Signing in", async () => {
      try {
        // Leaves the page for Entra ID's sign-in page; the portal starts again when it comes back.
        if (auth instanceof EntraAuth) await auth.signIn(next);
        else done();
      } catch (e) {
        mount(out, problemBox(e));
      }
    });
  });
  mount(
    root,
    h("h1", { tabindex: "-1" }, "Sign in"),
    notice,
    h(
      "div",
      { class: "panel" },
      h("p", null, "Sign in with your work account (Microsoft Entra ID). You will come back here afterwards."),
      h("div", { class: "actions" }, button),
      out,
    ),
  );
}
