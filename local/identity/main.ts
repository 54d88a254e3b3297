// `npm run emulator:identity`: the identity provider emulator in the foreground.
//   --port 7074   --host 127.0.0.1   --issuer URL   --audience AUD
import { parseArgs } from "node:util";
import { defaultIdentityPort, startIdentityEmulator } from "./server.js";

const { values } = parseArgs({
  options: { port: { type: "string" }, host: { type: "string" }, issuer: { type: "string" }, audience: { type: "string" } },
  strict: true,
});

const emulator = await startIdentityEmulator({
  port: values.port === undefined ? defaultIdentityPort : Number(values.port),
  host: values.host,
  issuer: values.issuer,
  audience: values.audience,
  log: (line) => console.log(line),
});
console.log(`Identity emulator on ${emulator.url}
  issuer    ${emulator.issuer}
  audience  ${emulator.audience}
  JWKS      ${emulator.jwksUri}
  tokens    POST ${emulator.url}/token  {"tid":"…","oid":"…","name":"…","roles":["Intune.Administrator"]}`);
const stop = (): void => void emulator.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
