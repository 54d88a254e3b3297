// The app's services, built once per process from the validated configuration.
import { loadConfig } from "../shared/config.js";
import { buildServices, type Services } from "../shared/composition.js";

let current: Services | undefined;
let tablesReady: Promise<void> | undefined;

export function services(): Services {
  current ??= buildServices(loadConfig());
  return current;
}

/**
 * The seam for unit tests: what `services()` answers from now on (services over in-memory
 * ports), or undefined to build them from configuration again. Production never calls it.
 */
export function setServicesForTests(s: Services | undefined): void {
  current = s;
  tablesReady = undefined;
}

/** Creates missing tables once per process before the first use. */
export function ensureTables(): Promise<void> {
  tablesReady ??= services()
    .tables.ensureAll()
    .catch((e: unknown) => {
      tablesReady = undefined;
      throw e;
    });
  return tablesReady;
}
