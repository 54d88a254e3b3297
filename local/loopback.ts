// Loopback-only listening for the local emulators: they accept any token (or mint them),
// so they must never be reachable from another machine.
import type { Server } from "node:http";
import { isIP } from "node:net";

const unbracket = (host: string): string => host.replace(/^\[(.*)\]$/, "$1");

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`: the only hosts an emulator may bind. */
export function isLoopbackHost(host: string): boolean {
  const h = unbracket(host.trim()).toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice("::ffff:".length) : h;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

/** The host as it goes into a URL (IPv6 in brackets). */
export function urlHost(host: string): string {
  const h = unbracket(host);
  return isIP(h) === 6 ? `[${h}]` : h;
}

/**
 * Listens and resolves with the port actually bound (the point of port 0). A busy port
 * rejects with a message naming it, since "EADDRINUSE" alone does not say which emulator.
 */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const where = `${urlHost(host)}:${port}`;
      if (e.code === "EADDRINUSE") reject(new Error(`port ${port} is already in use (${where}); stop whatever holds it or choose another port`, { cause: e }));
      else if (e.code === "EACCES") reject(new Error(`not allowed to listen on ${where}`, { cause: e }));
      else reject(e);
    };
    server.once("error", onError);
    server.listen(port, unbracket(host), () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}
