// The key scheme of the `devices` table (partition = tenant): one record row per device and
// index rows that copy it under other RowKeys, so every device-list page is a few RowKey
// range queries instead of a scan of the tenant (the "intra-partition secondary index"
// pattern of the Table storage design guide). Pure: no I/O, unit-tested on its own.
//
// Rows of one device (v = encoded sort value, see encodeSortValue; id = device id):
//   d|<id>                                   the record (source of truth, lists its index keys)
//   i|<seg>|n|<v(name)>!<id>                 by device name: "*" (every device), and
//                                            "t|<tag>" per scope tag ("h|<hash>" for a
//                                            tag too long to keep in a key)
//   i|*|u|<v(upn)>!<id>                      by user UPN
//   i|*|d|<v(display name)>!<id>             by user name
//   i|*|p|<platform>|<v(name)>!<id>          platform filter
//   i|*|e|<class>|<v(name)>!<id>             eligible filter
//   i|*|pe|<platform>|<class>|<v(name)>!<id> both
//
// Why this shape:
// - All rows of a device live in one partition, so the record and its index rows change in
//   ONE Table transaction (≤ 100 operations): readers never see an index row without its
//   record or a stale copy beside a new one.
// - A device has at most 6 + 14 = 20 index rows. An update writes the new rows and deletes
//   the old ones that no longer apply: 20 + 20 + the record = 41 ≤ 100 operations.
//   A device with more than 14 scope tags (Graph allows it; in practice devices carry one
//   to three) is indexed under the single segment "w" ("wide") instead of per tag; scoped
//   listings read that small range too and keep only the rows in the caller's scope.
// - Eligibility depends on the tenant setting allowPossiblyUnsupportedWindowsEditions, so the
//   index stores a class that does not: "yes" (eligible either way), "no" (ineligible either
//   way) or "ifallowed" (eligible only with the setting on: the restricted Windows
//   editions). eligible=true reads "yes" (+ "ifallowed" with the setting on); eligible=false
//   reads "no" (+ "ifallowed" with it off). Changing the setting rewrites nothing.
// - Scoped callers read one range per scope tag (+ "w") and merge them; search reads the
//   name, UPN and display-name ranges and merges them. Filters that have no composite row
//   (search with platform or eligible, scoped with platform or eligible) read the narrowest
//   ranges and filter the copies, within a per-page budget (see TableDeviceStore).
// - Only the device-name rows are kept per scope tag (version 3; before, the UPN and
//   display-name rows were too: 3 rows per tag). A scoped search reads its tags' name
//   ranges and the tenant-wide UPN and display-name ranges, keeping the rows in scope: a
//   search prefix narrows those ranges to a few rows, so the per-tag copies bought little
//   and cost two rows per tag on every device write (docs/cost.md).
// - Rules that derive the class or platform live in shared/domain. Every row read is checked
//   against the full filter anyway, so a stale class can only hide a device, never show a
//   wrong one. To follow a rules change, the record carries the index version it was
//   written under (deviceIndexVersion): bump it with the change, and the re-index job
//   (shared/app/devices/deviceReindex.ts) rewrites every record of an older version.
import { createHash } from "node:crypto";
import { platformOf, type Device, type Platform } from "../../domain/device.js";
import { evaluateEligibility, type EligibilitySettings } from "../../domain/eligibility.js";
import { inScope, type Scope } from "../../domain/permissions.js";

/**
 * The version of everything the index rows of a device are derived from: this key scheme,
 * the eligibility classes (shared/domain/eligibility.ts) and platformOf
 * (shared/domain/device.ts). Bump it in the change that alters any of them; the re-index
 * job then rewrites the rows of every device stored under an older version, tenant by
 * tenant. test/unit/deviceIndex.test.ts pins the rows of sample devices to this number, so
 * a rules change without a bump fails there.
 * 1: records written before versions existed (they carry no indexVersion); 2: the first
 * versioned deploy (same rules; its job rewrites every version-1 device once); 3: UPN and
 * display-name rows only tenant-wide, no longer per scope tag; 4: a tag escaping to more
 * than 64 characters is indexed under a hash ("h|"), so its rows fit a RowKey.
 */
export const deviceIndexVersion = 4;
/** The version of a record written before records carried one. */
export const unversioned = 1;

export const recordPrefix = "d|";
/** The exclusive upper bound of the record rows' RowKey range. */
export const recordRangeEnd = prefixEnd(recordPrefix);
export const recordKey = (deviceId: string): string => `${recordPrefix}${deviceId}`;

/** More tags than this and the device is indexed under "w" instead (see the header). */
export const maxIndexedTags = 14;
/** Encoded sort values are cut here: RowKeys stay far below Table storage's 1 KiB. */
export const maxSortValueLength = 240;
const idSeparator = "!";

// Characters kept as they are. Everything else (upper case cannot occur after lowercasing,
// except in the odd Unicode case mapping) becomes %XX of its UTF-8 bytes. The result is
// ASCII, so Azure's ordinal RowKey order, Azurite's and JavaScript's `<` all agree, and
// the separators `|` and `!` (also escaped) can never appear inside a value. `!` sorts
// below every kept character, so "ab" sorts before "abc" and "ab-c".
const kept = /^[a-z0-9._@-]$/;

/** Case-insensitive form used for matching: lower-cased one character at a time, so the
 * result of a prefix is always a prefix of the result (unlike a whole-string toLowerCase,
 * which maps a final Σ differently). */
export function foldCase(value: string): string {
  let out = "";
  for (const ch of value) out += ch.toLowerCase();
  return out;
}

function escapeAll(folded: string, keep: RegExp): string {
  let out = "";
  for (const ch of folded) {
    if (keep.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Cuts at `max` without splitting a %XX escape. */
function cut(encoded: string, max: number): string {
  if (encoded.length <= max) return encoded;
  let end = max;
  const lastPercent = encoded.lastIndexOf("%", end - 1);
  if (lastPercent >= 0 && lastPercent > end - 3) end = lastPercent;
  return encoded.slice(0, end);
}

/** The order- and prefix-preserving key form of a name, UPN or display name. */
export function encodeSortValue(value: string | null | undefined): string {
  return cut(escapeAll(foldCase(value ?? ""), kept), maxSortValueLength);
}

/** Scope tags match exactly (as role assignments compare them), so only escaped, not folded. */
export function encodeTag(tag: string): string {
  return escapeAll(tag, /^[A-Za-z0-9_-]$/);
}

export const eligibilityClasses = { yes: "yes", no: "no", ifAllowed: "ifallowed" } as const;
export type EligibilityClass = (typeof eligibilityClasses)[keyof typeof eligibilityClasses];

export function eligibilityClassOf(device: Device): EligibilityClass {
  const off = evaluateEligibility(device, { allowPossiblyUnsupportedWindowsEditions: false }).eligible;
  const on = evaluateEligibility(device, { allowPossiblyUnsupportedWindowsEditions: true }).eligible;
  if (off) return eligibilityClasses.yes;
  return on ? eligibilityClasses.ifAllowed : eligibilityClasses.no;
}

/** The classes to read for an eligible filter under the tenant's current setting. */
export function classesFor(eligible: boolean, settings: EligibilitySettings): EligibilityClass[] {
  const allowed = settings.allowPossiblyUnsupportedWindowsEditions;
  if (eligible) return allowed ? [eligibilityClasses.yes, eligibilityClasses.ifAllowed] : [eligibilityClasses.yes];
  return allowed ? [eligibilityClasses.no] : [eligibilityClasses.no, eligibilityClasses.ifAllowed];
}

export const searchFields = { name: "n", upn: "u", displayName: "d" } as const;
export type SearchField = (typeof searchFields)[keyof typeof searchFields];

function fieldValue(device: Device, field: SearchField): string | null | undefined {
  if (field === searchFields.name) return device.deviceName;
  if (field === searchFields.upn) return device.userPrincipalName;
  return device.userDisplayName;
}

const allSegment = "*";
const wideSegment = "w";
/** Longer encoded tags are indexed under a hash of the tag (the "h" segment), see tagSegment. */
export const maxEncodedTagLength = 64;
/**
 * A tag's segment. A RowKey holds at most 1 KiB (512 UTF-16 characters), and a tag may be 64
 * characters that escape to 9 each: kept whole it would overflow the key, and Table storage
 * would refuse the device. So a tag escaping to more than maxEncodedTagLength characters is
 * named by a hash (rows read are checked against the scope anyway, so a collision could only
 * cost reads). The longest key: "i|t|" + 64 + "|n|" + 240 + "!" + a 64-character id = 376.
 */
function tagSegment(tag: string): string {
  const encoded = encodeTag(tag);
  if (encoded.length <= maxEncodedTagLength) return `t|${encoded}`;
  return `h|${createHash("sha256").update(tag, "utf8").digest("base64url").slice(0, 22)}`;
}

function segmentsOf(device: Device): string[] {
  const tags = [...new Set(device.roleScopeTagIds)];
  return tags.length > maxIndexedTags ? [allSegment, wideSegment] : [allSegment, ...tags.map(tagSegment)];
}

/** Every index RowKey of a device; the record row lists them so the next write can delete stale ones. */
export function indexKeysOf(device: Device): string[] {
  const tail = `${encodeSortValue(device.deviceName)}${idSeparator}${device.id}`;
  const platform = platformOf(device);
  const klass = eligibilityClassOf(device);
  const keys: string[] = [];
  for (const seg of segmentsOf(device)) keys.push(`i|${seg}|${searchFields.name}|${tail}`);
  for (const field of [searchFields.upn, searchFields.displayName]) {
    const v = fieldValue(device, field);
    if (v) keys.push(`i|${allSegment}|${field}|${encodeSortValue(v)}${idSeparator}${device.id}`);
  }
  keys.push(`i|*|p|${platform}|${tail}`, `i|*|e|${klass}|${tail}`, `i|*|pe|${platform}|${klass}|${tail}`);
  return keys;
}

/** The smallest string greater than every string that starts with `prefix`. */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * One RowKey range of a plan. Rows are ordered by the part after `family` (the merge key:
 * `<value>!<id>`); all ranges of one plan share that order, so they merge into one stream.
 */
export interface RangeSpec {
  readonly family: string;
  /** Inclusive lower bound (the family, or the family plus the search prefix). */
  readonly from: string;
  /** Exclusive upper bound. */
  readonly to: string;
  readonly field: SearchField;
}

export interface ListFilter {
  readonly scope: Scope;
  readonly search?: string;
  readonly platform?: Platform;
  readonly eligible?: boolean;
  readonly settings: EligibilitySettings;
}

export interface Plan {
  readonly ranges: readonly RangeSpec[];
  /** Whether a row read from `field` belongs in the result (filters, scope, one occurrence per device). */
  accept(device: Device, field: SearchField): boolean;
}

const range = (family: string, field: SearchField, prefix = ""): RangeSpec => ({
  family,
  from: family + prefix,
  to: prefixEnd(family + prefix),
  field,
});

export function planFor(filter: ListFilter): Plan {
  const { scope } = filter;
  const segments = scope.all ? [allSegment] : [...[...scope.tags].sort().map(tagSegment), wideSegment];
  const search = filter.search === undefined || filter.search === "" ? undefined : filter.search;
  const ranges: RangeSpec[] = [];
  if (search !== undefined) {
    const prefix = encodeSortValue(search);
    // Names per segment; users only tenant-wide (rows out of scope are dropped by `accept`).
    for (const seg of segments) ranges.push(range(`i|${seg}|${searchFields.name}|`, searchFields.name, prefix));
    for (const f of [searchFields.upn, searchFields.displayName]) ranges.push(range(`i|${allSegment}|${f}|`, f, prefix));
  } else if (scope.all && filter.platform !== undefined && filter.eligible !== undefined) {
    for (const c of classesFor(filter.eligible, filter.settings)) ranges.push(range(`i|*|pe|${filter.platform}|${c}|`, searchFields.name));
  } else if (scope.all && filter.platform !== undefined) {
    ranges.push(range(`i|*|p|${filter.platform}|`, searchFields.name));
  } else if (scope.all && filter.eligible !== undefined) {
    for (const c of classesFor(filter.eligible, filter.settings)) ranges.push(range(`i|*|e|${c}|`, searchFields.name));
  } else {
    for (const seg of segments) ranges.push(range(`i|${seg}|n|`, searchFields.name));
  }

  const folded = search === undefined ? undefined : foldCase(search);
  const matches = (device: Device, f: SearchField): boolean => {
    const v = fieldValue(device, f);
    return !!v && folded !== undefined && foldCase(v).startsWith(folded);
  };
  return {
    ranges,
    accept(device, field) {
      if (!inScope(scope, device.roleScopeTagIds)) return false;
      if (filter.platform !== undefined && platformOf(device) !== filter.platform) return false;
      if (filter.eligible !== undefined && evaluateEligibility(device, filter.settings).eligible !== filter.eligible) return false;
      if (folded === undefined) return true;
      if (!matches(device, field)) return false;
      // A device found by its name and by its user appears in two ranges: keep only the
      // row with the smallest matching key. Equal keys (name equal to UPN) merge as one row.
      const own = encodeSortValue(fieldValue(device, field));
      return Object.values(searchFields).every((f) => f === field || !matches(device, f) || encodeSortValue(fieldValue(device, f)) >= own);
    },
  };
}

/** Binds a continuation token to its query, so a token from another query is refused, not misread. */
export function filterFingerprint(filter: Omit<ListFilter, "scope" | "settings">): string {
  const basis = JSON.stringify([filter.search === undefined ? null : foldCase(filter.search), filter.platform ?? null, filter.eligible ?? null]);
  return createHash("sha256").update(basis).digest("base64url").slice(0, 12);
}
