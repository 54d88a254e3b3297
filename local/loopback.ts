// Loopback-only listening for the local emulators: they have no real authentication,
// so they refuse any other address.
import type { Server } from "node:http";
import { isIP } from "node:net";

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/** The host as it goes into a URL (IPv6 in brackets). */
export const urlHost = (host: string): string => (isIP(host.replace(/^\[|\]$/g, "")) === 6 ? `[${host.replace(/^\[|\]$/g, "")}]` : host);

/** Listens and resolves with the port actually bound (useful with port 0). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once("error", onError);
    server.listen(port, host.replace(/^\[|\]$/g, ""), () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}
