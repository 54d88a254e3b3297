// Free TCP ports on loopback, for tests and for components that must know their port up front.
//
// A port found free is released before its user binds it (an emulator, Azurite's child
// process a second later). If it came from the kernel's ephemeral range (what `listen(0)`
// hands out), any outgoing connection of any process may take it meanwhile: with two test
// runs side by side (test/run.ts), one run's many connections took a port the other's stack
// had just chosen. So on Linux the port is picked at random below that range (from 20000),
// where only another listener can take it; elsewhere, or if no free port is found there, the
// kernel picks.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Ports below this are left alone: well-known ports and common development ones (Azurite 10000-10002, npm start 7071-7075, 5672, 8080, …). */
const lowestPicked = 20_000;
const attempts = 20;

function ephemeralRangeStart(): number | undefined {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > lowestPicked + 1_000 ? low : undefined;
  } catch {
    return undefined;
  }
}

/** Binds `port` (0 = the kernel's choice) and releases it: the port, or undefined when it is taken. */
function probe(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" || e.code === "EACCES" ? resolve(undefined) : reject(e)));
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  const rangeStart = ephemeralRangeStart();
  if (rangeStart !== undefined) {
    for (let i = 0; i < attempts; i++) {
      const candidate = lowestPicked + Math.floor(Math.random() * (rangeStart - lowestPicked));
      const port = await probe(candidate, host);
      if (port !== undefined) return port;
    }
  }
  const port = await probe(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}
