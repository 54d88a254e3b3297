// `npm run emulator:keyvault`: the Key Vault emulator in the foreground.
//   --port 7073   --host 127.0.0.1   --data-dir DIR (default .local/keyvault)
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { defaultKeyVaultPort, startKeyVaultEmulator } from "./server.js";

const { values } = parseArgs({ options: { port: { type: "string" }, host: { type: "string" }, "data-dir": { type: "string" } }, strict: true });
const dataDir = resolve(values["data-dir"] ?? ".local/keyvault");
const vault = await startKeyVaultEmulator({
  port: values.port === undefined ? defaultKeyVaultPort : Number(values.port),
  host: values.host,
  dataDir,
  log: (line) => console.log(line),
});
console.log(`Key Vault emulator on ${vault.url} (data in ${dataDir})
  use SecretClient("${vault.url}", credential, { allowInsecureConnection: true, disableChallengeResourceVerification: true })`);
const stop = (): void => void vault.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
