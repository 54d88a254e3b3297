// local.settings.json, read the way `func start` reads it: `Values` become environment variables (variables
// already set win), and a first start creates the file from local.settings.sample.json.
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const localSettingsFile = "local.settings.json";
export const localSettingsSampleFile = "local.settings.sample.json";

export class LocalSettingsError extends Error {
  constructor(
    readonly file: string,
    readonly key: string | undefined,
    problem: string,
  ) {
    super(`${file}${key ? `: ${key}` : ""}: ${problem}`);
    this.name = "LocalSettingsError";
  }
}

export interface LocalSettings {
  /** True when this call created local.settings.json from the sample. */
  created: boolean;
  /** `Values` exactly as the file has them (process.env may hold other values where variables were already set). */
  values: Record<string, string>;
  /** Absolute path of the settings file ("" when neither it nor the sample exists). */
  path: string;
  /** `Host.LocalHttpPort`, when set. */
  localHttpPort?: number;
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value} (${JSON.stringify(value)})`;
}

/** Loads `<appRoot>/local.settings.json` into process.env; throws LocalSettingsError naming the file and key. */
export function loadLocalSettings(appRoot: string, env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const path = join(appRoot, localSettingsFile);
  let created = false;
  if (!existsSync(path)) {
    const sample = join(appRoot, localSettingsSampleFile);
    if (!existsSync(sample)) return { created: false, values: {}, path: "" };
    try {
      // COPYFILE_EXCL: never overwrite a file another process created meanwhile.
      copyFileSync(sample, path, 1);
      created = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }

  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new LocalSettingsError(path, undefined, `malformed JSON: ${(error as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new LocalSettingsError(path, undefined, "expected a JSON object");
  const file = json as Record<string, unknown>;
  if (file.IsEncrypted === true) throw new LocalSettingsError(path, "IsEncrypted", "encrypted settings are not supported locally; set it to false");

  const rawValues = file.Values ?? {};
  if (typeof rawValues !== "object" || rawValues === null || Array.isArray(rawValues)) {
    throw new LocalSettingsError(path, "Values", `must be an object of string settings, got ${describe(rawValues)}`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawValues)) {
    if (typeof value !== "string") throw new LocalSettingsError(path, `Values.${key}`, `must be a string, got ${describe(value)}`);
    values[key] = value;
  }

  let localHttpPort: number | undefined;
  const hostSection = file.Host;
  if (typeof hostSection === "object" && hostSection !== null && "LocalHttpPort" in hostSection) {
    const port = (hostSection as Record<string, unknown>).LocalHttpPort;
    if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
      throw new LocalSettingsError(path, "Host.LocalHttpPort", `must be a port number, got ${describe(port)}`);
    }
    localHttpPort = port as number;
  }

  for (const [key, value] of Object.entries(values)) if (env[key] === undefined) env[key] = value;
  return { created, values, path, localHttpPort };
}
