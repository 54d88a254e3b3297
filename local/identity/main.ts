// `npm run emulator:identity`: the identity provider emulator in the foreground, until Ctrl+C.
//   --port 7074   --tls-port 7075 (HTTPS, the MSAL authority; the issuer then)   --host 127.0.0.1   --issuer URL   --audience AUD
import { parseArgs } from "node:util";
import { stopOnSignals } from "../http.js";
import { defaultIdentityPort, startIdentityEmulator } from "./server.js";

const { values } = parseArgs({
  options: { port: { type: "string" }, "tls-port": { type: "string" }, host: { type: "string" }, issuer: { type: "string" }, audience: { type: "string" } },
  strict: true,
});
const port = values.port === undefined ? defaultIdentityPort : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be a port number (0-65535), not ${values.port}`);
  process.exit(2);
}

const tlsPort = values["tls-port"] === undefined ? undefined : Number(values["tls-port"]);
if (tlsPort !== undefined && (!Number.isInteger(tlsPort) || tlsPort < 0 || tlsPort > 65_535)) {
  console.error(`--tls-port must be a port number (0-65535), not ${values["tls-port"]}`);
  process.exit(2);
}

try {
  const emulator = await startIdentityEmulator({
    port,
    tlsPort,
    host: values.host,
    issuer: values.issuer,
    audience: values.audience,
    log: (line) => console.log(`[identity] ${line}`),
  });
  console.log(`Identity emulator on ${emulator.url}
  issuer    ${emulator.issuer}
  audience  ${emulator.audience}
  JWKS      ${emulator.jwksUri}
  tokens    POST ${emulator.url}/token  {"tid":"…","oid":"…","name":"…","roles":["Intune.Administrator"]}
  apps      POST ${emulator.url}/apps   {"tenantId":"…","displayName":"…","roles":["RemoteAssistance.Automation"]}; client credentials at ${emulator.tlsUrl ?? emulator.url}/<tenantId>/oauth2/v2.0/token${emulator.tlsUrl ? `\n  HTTPS     ${emulator.tlsUrl} (self-signed; the authority for MSAL.js; no users to sign in here: npm start adds the demo tenant's)` : ""}`);
  stopOnSignals(() => emulator.close(), "[identity] ");
} catch (e) {
  console.error(`[identity] ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
