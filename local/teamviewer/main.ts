// `npm run emulator:teamviewer`: the TeamViewer fake in the foreground.
//   --port 7072   --host 127.0.0.1   --data-dir DIR (keep state across restarts)
//   --client-id ID   --client-secret SECRET (default local-client-id / local-client-secret)
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { stopOnSignals } from "../http.js";
import { defaultTeamViewerFakePort, startTeamViewerFake } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string" },
    "data-dir": { type: "string" },
    "client-id": { type: "string" },
    "client-secret": { type: "string" },
    quiet: { type: "boolean", default: false },
  },
  strict: true,
});

const port = values.port === undefined ? defaultTeamViewerFakePort : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be a port number (0–65535), not "${values.port}"`);
  process.exit(2);
}

try {
  const fake = await startTeamViewerFake({
    port,
    host: values.host,
    dataDir: values["data-dir"] === undefined ? undefined : resolve(values["data-dir"]),
    clientId: values["client-id"],
    clientSecret: values["client-secret"],
    log: values.quiet ? undefined : (line) => console.log(line),
  });
  console.log(`TeamViewer fake listening on ${fake.url}`);
  console.log(`  sign-in (TEAMVIEWER_LOGIN_BASE_URL)  ${fake.url}/oauth2/authorize`);
  console.log(`  Web API (TEAMVIEWER_API_BASE_URL)    ${fake.apiBaseUrl}`);
  console.log(`  test control                         ${fake.url}/_control/`);
  stopOnSignals(() => fake.close());
} catch (e) {
  console.error(`The TeamViewer fake did not start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
