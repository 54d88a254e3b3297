// The stack's Azurite child process: closing it must settle whatever happened to it first.
import { describe, expect, it } from "vitest";
import { startAzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";

describe("Azurite child process", () => {
  it("closes at once when a signal already killed it (Ctrl-C or `timeout` signals the whole process group)", async () => {
    // Prepare
    const azurite = await startAzuriteTables({ port: await freePort() });
    const pid = azurite.pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await expect.poll(alive, { timeout: 5_000 }).toBe(false);
    // Reaped (so the child's exit event has been emitted): let that event run first.
    await new Promise((r) => setTimeout(r, 100));

    // Act: before the fix this waited forever for an exit that had already happened.
    const closed = await Promise.race([azurite.close().then(() => "closed"), new Promise((r) => setTimeout(() => r("still waiting"), 3_000))]);

    // Assess
    expect(closed).toBe("closed");
  });
});
