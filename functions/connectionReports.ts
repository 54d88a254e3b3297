// The timer that reads TeamViewer's connection reports and records who connected to which
// session (see docs/teamviewer.md, "Reporting"). Run it at once through the host's admin
// API: POST /admin/functions/teamViewerConnectionReports.
import type { FunctionDefinition } from "./definition.js";
import { scheduled } from "./timer/scheduled.js";

export const connectionReportFunctions: FunctionDefinition[] = [
  scheduled({
    name: "teamViewerConnectionReports",
    // Every five minutes, off the minute the connector health check uses.
    schedule: "30 */5 * * * *",
    run: async ({ services, log }) => {
      await services.sessions.connectionReports.run(log);
    },
  }),
];
