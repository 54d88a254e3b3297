// Reading the loosely typed values rhea decodes (termini, requests, outcome states) without casts
// at every use, and the text of a caught error.

export function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

export function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Buffer.isBuffer(value) ? (value as Record<string, unknown>) : undefined;
}

export function addressOf(terminus: unknown): string | undefined {
  return text(field(terminus, "address"));
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
