// No two HTTP functions may answer the same method and path. The local host ranks routes as
// ASP.NET's attribute routing does (literal segments before parameters), but the Functions
// host in Azure tries them in the order the functions were registered, which comes from its
// function list and is not the app's to choose. With no overlap the order cannot matter, so
// a route that works here works there.
import { describe, expect, it } from "vitest";
import { allDefinitions } from "../../functions/all.js";

interface Route {
  readonly name: string;
  readonly method: string;
  readonly segments: readonly string[];
}

const isParameter = (segment: string): boolean => segment.startsWith("{") && segment.endsWith("}");
const isCatchAll = (segment: string): boolean => segment.startsWith("{*") || segment.startsWith("{**");

/** Some path matches both: a catch-all takes the rest, a parameter any one segment. */
export function overlap(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return x === y;
    if (isCatchAll(x) || isCatchAll(y)) return true;
    if (isParameter(x) || isParameter(y)) continue;
    if (x.toLowerCase() !== y.toLowerCase()) return false;
  }
}

function httpRoutes(): Route[] {
  return allDefinitions().flatMap((d) => {
    if (d.kind !== "http") return [];
    const segments = (d.options.route ?? d.name).split("/").filter((s) => s !== "");
    return (d.options.methods ?? ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]).map((method) => ({ name: d.name, method, segments }));
  });
}

describe("HTTP routes", () => {
  it("the overlap check tells overlapping templates from distinct ones", () => {
    expect(overlap(["sessions", "{sessionId}"], ["sessions", "report"])).toBe(true);
    expect(overlap(["sessions", "{sessionId}"], ["sessions", "{id}", "close"])).toBe(false);
    expect(overlap(["{*path}"], ["devices"])).toBe(true);
    expect(overlap(["auditEvents"], ["auditEvents", "delta"])).toBe(false);
    expect(overlap(["Devices"], ["devices"])).toBe(true);
    expect(overlap(["devices", "{deviceId}"], ["users", "{id}"])).toBe(false);
  });

  it("no two functions answer the same method and path, so the host's order of trying them cannot matter", () => {
    const routes = httpRoutes();
    expect(routes.length).toBeGreaterThan(20);
    const clashes: string[] = [];
    for (const [i, a] of routes.entries()) {
      for (const b of routes.slice(i + 1)) {
        if (a.method === b.method && overlap(a.segments, b.segments))
          clashes.push(`${a.method} ${a.name} (${a.segments.join("/")}) and ${b.name} (${b.segments.join("/")})`);
      }
    }
    expect(clashes).toEqual([]);
  });
});
