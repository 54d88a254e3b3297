// The local push gateway: records every push instead of sending it, as one JSON line per
// push in a file (LOCAL_PUSH_FILE, set by the local stack) so `npm start` users and tests
// can see what the Company Portal would have been told. Without a file it keeps them in memory.
import { appendFile } from "node:fs/promises";
import type { PushGateway, PushNotification } from "../../app/sessions/ports.js";
import { userTag } from "./notificationHubsPushGateway.js";

export interface RecordedPush extends PushNotification {
  readonly tag: string;
  readonly at: string;
}

export class LocalPushGateway implements PushGateway {
  readonly #file?: string;
  readonly #now: () => Date;
  readonly #recorded: RecordedPush[] = [];

  constructor(options: { file?: string; now: () => Date }) {
    this.#file = options.file;
    this.#now = options.now;
  }

  async push(n: PushNotification): Promise<void> {
    const record: RecordedPush = { ...n, tag: userTag(n.tenantId, n.userId), at: this.#now().toISOString() };
    if (this.#file) await appendFile(this.#file, `${JSON.stringify(record)}\n`);
    else this.#recorded.push(record);
  }

  /** What was pushed so far in this process (only when no file is configured). */
  recorded(): readonly RecordedPush[] {
    return this.#recorded;
  }
}

/** Reads a LOCAL_PUSH_FILE back: for tests and the demo. */
export function parsePushFile(text: string): RecordedPush[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as RecordedPush);
}
