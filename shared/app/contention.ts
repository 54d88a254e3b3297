// A write that kept losing its etag race to other writers of the same row (a burst of
// requests on one session, say): not a bug and not permanent. An HTTP caller is told to
// try again in a moment (429 with Retry-After, functions/http/endpoint.ts) instead of a 500;
// a queue handler lets Service Bus redeliver it, as any transient error.
export class Contended extends Error {
  constructor(what: string, attempts: number) {
    super(`${what} kept changing under this writer (${attempts} attempts)`);
    this.name = "Contended";
  }
}
