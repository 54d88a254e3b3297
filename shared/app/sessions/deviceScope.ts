// An open session follows its device's scope tags. Reads and actions judge a session on the
// scope tags it records; when the inventory moves a device to other tags, its open session
// (found through the device's lock) takes them, so the scope the device left loses it and
// the one it joined gets it. Sessions that ended keep the tags they had.
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { Device } from "../../domain/device.js";
import { sameTags } from "../../domain/deviceInventory.js";
import { followDeviceScope } from "../../domain/session.js";
import type { SessionWriter } from "./sessionWriter.js";

export class SessionScopes {
  readonly #d: { writer: SessionWriter; clock: Clock };

  constructor(deps: { writer: SessionWriter; clock: Clock }) {
    this.#d = deps;
  }

  /**
   * Moves the device's open session to the device's scope tags, etag-guarded: a worker that
   * wrote meanwhile makes it read and decide again, a session that ended meanwhile stays as it
   * was, and one already following details as new or newer (a later event got there first) is
   * not moved back. Safe to repeat.
   */
  async followScopeTags(device: Device, ctx: { readonly correlationId?: string; readonly log: Logger }): Promise<void> {
    const open = await this.#d.writer.store.openOfDevice(device.tenantId, device.id);
    if (!open) return;
    const now = this.#d.clock.now();
    const changed = await this.#d.writer.change(
      device.tenantId,
      open.session.id,
      (s) => {
        const next = followDeviceScope(s, device, now);
        return next && { next };
      },
      ctx.log,
      open,
    );
    if (changed && !sameTags(changed.before.device.scopeTags, changed.after.session.device.scopeTags)) {
      ctx.log.info("the device's open session moved to its new scope tags", { sessionId: open.session.id, deviceId: device.id });
    }
  }
}
