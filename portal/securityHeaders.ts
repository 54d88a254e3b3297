// The portal's security headers, defined once: the local host serves the portal with them
// (local/stack.ts) and Static Web Apps does in Azure (infra/portalSite.ts writes them into
// staticwebapp.config.json). Node-side, like portal/build.ts; the browser bundle never imports it.

export interface PortalOrigins {
  /** Origins the portal calls besides its own: the API when it lives elsewhere, the identity provider. */
  readonly connect: readonly string[];
  /** Origins MSAL.js may load in a hidden frame to renew a token silently (the authority). */
  readonly frame?: readonly string[];
}

const originsOf = (urls: readonly string[]): string[] => [...new Set(urls.map((u) => new URL(u).origin))];

/**
 * The portal's script and styles are its own files (no inline script or style, no eval),
 * it talks to the API and the identity provider only, and nothing may frame it. A
 * `javascript:` link that got into the page could not run either.
 */
export function portalContentSecurityPolicy(origins: PortalOrigins): string {
  const frame = originsOf(origins.frame ?? []);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    ["connect-src 'self'", ...originsOf(origins.connect)].join(" "),
    ...(frame.length > 0 ? [["frame-src", ...frame].join(" ")] : []),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join("; ");
}

/** Every response of the portal's site carries these (header names as Static Web Apps writes them). */
export function portalSecurityHeaders(origins: PortalOrigins): Record<string, string> {
  return {
    "Content-Security-Policy": portalContentSecurityPolicy(origins),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
  };
}
