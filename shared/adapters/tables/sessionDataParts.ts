// A session's JSON over several Table string properties. Table storage holds at most 64 KiB
// (32,768 UTF-16 code units) in a string property and 1 MiB in an entity; TableSessionStore
// writes the JSON as `data`, `data1`, … (see sessionDataPartLength) and reads them back here.
import type { Session } from "../../domain/session.js";
import { joinProperty, propertyPartLength, splitProperty } from "./propertyParts.js";

/**
 * A session's JSON is bounded (docs/limits.md), but the bound is close to one property once
 * it keeps many connections, long names and history, and JSON escapes a control character
 * as six. So the JSON is stored in parts (propertyParts.ts) of at most this many code units,
 * `data`, `data1`, `data2`, … (replaced as a whole on every write, so no part outlives a
 * shorter session).
 */
export const sessionDataPartLength = propertyPartLength;
/** Parts at most: about 480 KB of the entity's 1 MiB. */
export const maxSessionDataParts = 8;

/** The JSON in parts of at most sessionDataPartLength, never splitting a surrogate pair. */
export function sessionDataProperties(json: string): { data: string } & Record<`data${number}`, string> {
  const parts = splitProperty("data", json, 1);
  if (Object.keys(parts).length > maxSessionDataParts)
    throw new Error(`a session's JSON of ${json.length} characters exceeds ${maxSessionDataParts} Table properties`);
  return parts as { data: string } & Record<`data${number}`, string>;
}

/** The properties of an entity that hold a session's JSON: `data`, then `data1`, `data2`, … when it is longer than one holds. */
// A type alias, not an interface: table entities need an implicit index signature.
export type SessionDataParts = { data: string; [part: `data${number}`]: string | undefined };

export const sessionJson = (e: SessionDataParts): string => joinProperty(e, "data", 1);

/** The session an entity holds. */
export const sessionOf = (e: SessionDataParts): Session => JSON.parse(sessionJson(e)) as Session;
