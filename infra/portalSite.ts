// The portal as azd deploys it to Azure Static Web Apps (azure.yaml service "web"):
//   tsx infra/portalSite.ts   → .deploy-portal/ (index.html, main.js, styles.css,
//                                config.json, staticwebapp.config.json)
// Run by the service's predeploy hook, after `azd provision`, so config.json is written from
// the provisioned outputs that azd passes to hooks as environment variables:
// SERVICE_API_URI, AUTH_ISSUER, AUTH_AUDIENCE, plus PORTAL_CLIENT_ID, which the deployer sets
// once (`azd env set PORTAL_CLIENT_ID <SPA app id>`, docs/deploy.md).
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildPortal } from "../portal/build.js";
import { readPortalConfig, type PortalConfig } from "../portal/src/config.js";
import { portalSecurityHeaders } from "../portal/securityHeaders.js";

export const portalDeployDir = resolve(fileURLToPath(new URL("../.deploy-portal", import.meta.url)));

/** The portal's config.json from azd's environment; every missing value is named. */
export function portalConfigFromEnv(env: NodeJS.ProcessEnv): PortalConfig {
  const missing = ["SERVICE_API_URI", "AUTH_ISSUER", "AUTH_AUDIENCE", "PORTAL_CLIENT_ID"].filter((k) => !env[k]);
  if (missing.length > 0)
    throw new Error(`missing ${missing.join(", ")} (run azd provision first; PORTAL_CLIENT_ID: azd env set PORTAL_CLIENT_ID <portal SPA app id>)`);
  // AUTH_ISSUER is https://login.microsoftonline.com/<tenant>/v2.0; MSAL's authority is without /v2.0.
  const authority = env.AUTH_ISSUER!.replace(/\/v2\.0\/?$/, "");
  const audience = env.AUTH_AUDIENCE!;
  const apiScope = `${audience.includes("://") ? audience : `api://${audience}`}/access_as_user`;
  const candidate = {
    apiBaseUrl: `${env.SERVICE_API_URI!.replace(/\/$/, "")}/api`,
    auth: { kind: "entra", clientId: env.PORTAL_CLIENT_ID, authority, apiScope },
  };
  const read = readPortalConfig(candidate);
  if ("problems" in read) throw new Error(`portal config.json:\n  ${read.problems.join("\n  ")}`);
  return read.config;
}

/**
 * staticwebapp.config.json: the SPA fallback and the security headers on every response
 * (portal/securityHeaders.ts, the same the local host sends), plus HSTS, which only means
 * something over https.
 */
export function staticWebAppConfig(apiBaseUrl: string, authority: string): Record<string, unknown> {
  return {
    navigationFallback: { rewrite: "/index.html", exclude: ["/main.js", "/main.js.map", "/styles.css", "/config.json"] },
    globalHeaders: {
      ...portalSecurityHeaders({ connect: [apiBaseUrl, authority], frame: [authority] }),
      "Strict-Transport-Security": "max-age=31536000",
      "Cache-Control": "no-cache",
    },
    routes: [{ route: "/config.json", headers: { "Cache-Control": "no-store" } }],
  };
}

export async function buildPortalSite(env: NodeJS.ProcessEnv, outDir: string = portalDeployDir): Promise<string> {
  const config = portalConfigFromEnv(env);
  await buildPortal({ outDir, config, minify: true });
  const authority = config.auth.kind === "entra" ? config.auth.authority : config.apiBaseUrl;
  writeFileSync(join(outDir, "staticwebapp.config.json"), `${JSON.stringify(staticWebAppConfig(config.apiBaseUrl, authority), null, 2)}\n`);
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildPortalSite(process.env).then(
    (dir) => console.log(`portal for Static Web Apps staged in ${dir}`),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
