// Starts the whole local stack once for the integration tests (free ports, fresh data)
// in a child process, exactly as `npm start` runs it, and hands the endpoints to tests.
import { writeFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import type { StackEndpoints } from "../../local/stack.js";
import { startStackProcess, type StackProcess } from "../support/stackProcess.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackEndpoints;
    /** JSON lines of every API response the tests received (test/support/recordResponses.ts); named by vitest.config.ts or test/run.ts. */
    responseLog: string;
  }
}

/**
 * The shared stack lifts the request rate limits: the load and fuzz tests send thousands of
 * requests as one caller, and every test sends from 127.0.0.1. The production defaults are
 * shown on a stack of their own (test/integration/limits.test.ts).
 */
export const sharedStackSettings: Record<string, string> = {
  RATE_LIMIT_CALLER_PER_MINUTE: "1000000",
  RATE_LIMIT_CALLER_BURST: "1000000",
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: "1000000",
  // Connector tests verify one tenant several times a minute.
  VERIFY_MIN_INTERVAL_SECONDS: "0",
  // Audit push: retries after 0.5 s and giving up after 18 s, so the push tests see a
  // receiver come back and one dead-lettered within seconds (nothing else pushes).
  AUDIT_EXPORT_RETRY_SECONDS: "0.5",
  AUDIT_EXPORT_GIVE_UP_HOURS: "0.005",
};

let running: StackProcess | undefined;

export async function setup(project: TestProject): Promise<void> {
  running = await startStackProcess(sharedStackSettings);
  project.provide("stack", running.endpoints);
  const responseLog = process.env.RAC_RESPONSE_LOG;
  if (!responseLog) throw new Error("RAC_RESPONSE_LOG is not set: run the tests through vitest.config.ts (npm test or npx vitest run)");
  // Emptied once per run: both integration projects (and both of test/run.ts's processes) append to it.
  if (process.env.RAC_RESPONSE_LOG_EMPTIED !== "1") {
    writeFileSync(responseLog, "");
    process.env.RAC_RESPONSE_LOG_EMPTIED = "1";
  }
  project.provide("responseLog", responseLog);
}

export async function teardown(): Promise<void> {
  await running?.stop();
}
