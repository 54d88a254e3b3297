// Matching a hash path against a route pattern ("/devices/:deviceId").

/**
 * The pattern's parameters, decoded, when the path fits it; undefined when it does not, and
 * when a segment is not valid percent-encoding (a hand-typed `#/devices/%E0`): such a path
 * names no page, and the portal says so instead of failing to draw one.
 */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split("/");
  const b = path.split("/");
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(":")) {
      if (!b[i]) return undefined;
      try {
        params[a[i].slice(1)] = decodeURIComponent(b[i]);
      } catch {
        return undefined;
      }
    } else if (a[i] !== b[i]) return undefined;
  }
  return params;
}
