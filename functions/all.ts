// Every function definition of the app, in one list.
import type { FunctionDefinition } from "./definition.js";
import { adminFunctions } from "./admin.js";
import { auditExportFunctions } from "./auditExport.js";
import { automationFunctions } from "./automation.js";
import { connectorFunctions } from "./connector.js";
import { connectionReportFunctions } from "./connectionReports.js";
import { deviceFunctions } from "./devices.js";
import { healthFunctions } from "./health.js";
import { openApiFunctions } from "./openapi.js";
import { reindexFunctions } from "./reindex.js";
import { meFunctions } from "./me.js";
import { sessionFunctions } from "./sessions.js";
import { sessionQueueFunctions } from "./sessionQueues.js";

export function allDefinitions(): FunctionDefinition[] {
  return [
    ...healthFunctions,
    ...openApiFunctions,
    ...adminFunctions,
    ...connectorFunctions,
    ...deviceFunctions,
    ...automationFunctions,
    ...sessionFunctions,
    ...meFunctions,
    ...sessionQueueFunctions,
    ...auditExportFunctions,
    ...connectionReportFunctions,
    ...reindexFunctions,
  ];
}
