// `npm run emulator:keyvault`: the Key Vault emulator in the foreground, until Ctrl+C.
//   --port 7073   --host 127.0.0.1   --data-dir DIR (default .local/keyvault)
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { stopOnSignals } from "../http.js";
import { defaultKeyVaultPort, startKeyVaultEmulator } from "./server.js";

const { values } = parseArgs({ options: { port: { type: "string" }, host: { type: "string" }, "data-dir": { type: "string" } }, strict: true });
const port = values.port === undefined ? defaultKeyVaultPort : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be a port number (0-65535), not ${values.port}`);
  process.exit(2);
}
const dataDir = resolve(values["data-dir"] ?? ".local/keyvault");

try {
  const vault = await startKeyVaultEmulator({ port, host: values.host, dataDir, log: (line) => console.log(`[keyvault] ${line}`) });
  console.log(`Key Vault emulator on ${vault.url} (secrets kept in ${dataDir})
  new SecretClient("${vault.url}", credential, { allowInsecureConnection: true, disableChallengeResourceVerification: true })`);
  stopOnSignals(() => vault.close(), "[keyvault] ");
} catch (e) {
  console.error(`[keyvault] ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
