// freePort picks ports another process's outgoing connections cannot take (local/ports.ts).
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "../../local/ports.js";

const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range";

describe("freePort", () => {
  it("returns ports that can be bound on loopback", async () => {
    // Act
    const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));

    // Assess: each one binds.
    for (const port of ports) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(ports.every((p) => Number.isInteger(p) && p > 0 && p < 65536)).toBe(true);
  });

  it.runIf(existsSync(rangeFile))("on Linux, picks below the kernel's ephemeral range", async () => {
    // Prepare
    const low = Number(readFileSync(rangeFile, "utf8").trim().split(/\s+/)[0]);

    // Act
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));

    // Assess
    expect(ports.every((p) => p >= 20_000 && p < low)).toBe(true);
  });
});
