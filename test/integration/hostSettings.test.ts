// loadLocalSettings (local/host/settings.ts): local.settings.json `Values` reach the environment the way
// `func start` puts them there, the file is created from the sample on first start, and bad files are named.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadLocalSettings, LocalSettingsError } from "../../local/host/settings.js";

let appRoot: string;

beforeEach(() => {
  appRoot = mkdtempSync(join(tmpdir(), "host-settings-"));
});

afterEach(() => {
  rmSync(appRoot, { recursive: true, force: true });
});

const sample = {
  IsEncrypted: false,
  Values: {
    FUNCTIONS_WORKER_RUNTIME: "node",
    ServiceBusConnection: "Endpoint=sb://127.0.0.1;UseDevelopmentEmulator=true",
    PORTAL_URL: "http://127.0.0.1:7071/",
  },
  Host: { LocalHttpPort: 7071 },
};

describe("loadLocalSettings", () => {
  it("creates local.settings.json from the sample on first start and loads its Values", () => {
    // Prepare
    writeFileSync(join(appRoot, "local.settings.sample.json"), JSON.stringify(sample, null, 2));
    const env: NodeJS.ProcessEnv = {};

    // Act
    const first = loadLocalSettings(appRoot, env);
    const second = loadLocalSettings(appRoot, env);

    // Assess
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(first.path).toBe(join(appRoot, "local.settings.json"));
    expect(readFileSync(first.path, "utf8")).toBe(readFileSync(join(appRoot, "local.settings.sample.json"), "utf8"));
    expect(first.values).toEqual(sample.Values);
    expect(first.localHttpPort).toBe(7071);
    expect(env).toEqual(sample.Values);
  });

  it("leaves variables that are already set alone", () => {
    writeFileSync(join(appRoot, "local.settings.json"), JSON.stringify(sample));
    const env: NodeJS.ProcessEnv = { PORTAL_URL: "http://localhost:5173/" };

    const result = loadLocalSettings(appRoot, env);

    expect(result.created).toBe(false);
    expect(result.values.PORTAL_URL).toBe("http://127.0.0.1:7071/");
    expect(env.PORTAL_URL).toBe("http://localhost:5173/");
    expect(env.FUNCTIONS_WORKER_RUNTIME).toBe("node");
  });

  it("reports malformed JSON naming the file", () => {
    const path = join(appRoot, "local.settings.json");
    writeFileSync(path, '{ "Values": { "A": "1", } ');

    expect(() => loadLocalSettings(appRoot, {})).toThrow(LocalSettingsError);
    expect(() => loadLocalSettings(appRoot, {})).toThrow(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: malformed JSON`));
  });

  it("reports a value that is not a string naming the file and the key, and sets nothing", () => {
    const path = join(appRoot, "local.settings.json");
    writeFileSync(path, JSON.stringify({ Values: { GOOD: "yes", TEAMVIEWER_TIMEOUT_MS: 15000 } }));
    const env: NodeJS.ProcessEnv = {};

    let error: unknown;
    try {
      loadLocalSettings(appRoot, env);
    } catch (e) {
      error = e;
    }

    expect(error).toBeInstanceOf(LocalSettingsError);
    expect((error as LocalSettingsError).file).toBe(path);
    expect((error as LocalSettingsError).key).toBe("Values.TEAMVIEWER_TIMEOUT_MS");
    expect((error as Error).message).toBe(`${path}: Values.TEAMVIEWER_TIMEOUT_MS: must be a string, got a number (15000)`);
    expect(env).toEqual({});
  });

  it("does nothing without a settings file or a sample", () => {
    const env: NodeJS.ProcessEnv = {};

    const result = loadLocalSettings(appRoot, env);

    expect(result).toEqual({ created: false, values: {}, path: "" });
    expect(existsSync(join(appRoot, "local.settings.json"))).toBe(false);
    expect(env).toEqual({});
  });
});
