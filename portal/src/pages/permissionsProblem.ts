// What the portal shows when it could not learn the signed-in user's rights (GET
// /me/permissions failed with anything but a 401, which sends the reader to sign in).
import { problemBox, problemOf } from "../api.js";
import { h, mount } from "../dom.js";

/**
 * The service's problem, what it means for the reader, and a way on: try again, or sign out.
 * A 500 here is the service's trouble (e.g. it could not load the identity provider's signing
 * keys), not the reader's sign-in, so the sign-in is kept.
 */
export function permissionsProblem(root: HTMLElement, error: unknown, retry: () => void, signOut: () => void): void {
  const status = problemOf(error).status;
  const serverSide = status === undefined || status >= 500;
  const again = h("button", { type: "button", class: "primary", id: "retry-permissions" }, "Try again");
  const out = h("button", { type: "button", id: "sign-out-instead" }, "Sign out");
  again.addEventListener("click", retry);
  out.addEventListener("click", signOut);
  mount(
    root,
    h("h1", null, "Remote Assistance Connector"),
    h(
      "p",
      { id: "permissions-unknown" },
      serverSide
        ? "The portal could not ask the service what your account may do. You are still signed in: this is the service's trouble, not your sign-in. Try again in a moment."
        : "The service refused to say what your account may do.",
    ),
    problemBox(error),
    h("div", { class: "actions" }, again, out),
  );
}
