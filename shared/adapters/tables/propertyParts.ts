// Text longer than one Table string property holds, stored over several: `name`, then
// `name<n>`, `name<n+1>`, … Table storage holds at most 64 KiB (32,768 UTF-16 code units) in a
// string property and 1 MiB in an entity. Used for a session's JSON (sessionDataParts.ts) and
// a user's groups (tableAdminStores.ts); each keeps the part names its rows were written with.

/** Code units per part: under a property's 32,768, with room to spare. */
export const propertyPartLength = 30_000;

/**
 * `text` as properties: `name` holds the first part, `name<firstSuffix>`, `name<firstSuffix + 1>`, …
 * the rest, each at most propertyPartLength code units, never splitting a surrogate pair.
 * An empty text is one empty part.
 */
export function splitProperty(name: string, text: string, firstSuffix: number): Record<string, string> {
  const parts: string[] = [];
  for (let start = 0; start < text.length || parts.length === 0;) {
    let end = Math.min(start + propertyPartLength, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    parts.push(text.slice(start, end));
    start = end;
  }
  const [first, ...rest] = parts;
  return Object.assign({ [name]: first }, ...rest.map((part, i) => ({ [`${name}${i + firstSuffix}`]: part })));
}

/** The text splitProperty stored under `name`: its parts joined, up to the first one missing. */
export function joinProperty(entity: Readonly<Record<string, unknown>>, name: string, firstSuffix: number): string {
  let text = String(entity[name]);
  for (let i = firstSuffix; typeof entity[`${name}${i}`] === "string"; i++) text += entity[`${name}${i}`] as string;
  return text;
}
