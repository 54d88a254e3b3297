// The portal's device list (portal/src/pages/devices.ts): the page size it sends the API is
// one of those it offers, whatever the address says (the API takes top as decimal digits only).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ApiClient } from "../../portal/src/api.js";
import { devicesPage } from "../../portal/src/pages/devices.js";
import { byId, installFakeDom, pageContext } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());

describe("portal device list", () => {
  it.each(["1e1", "0x10", " 50", "+50", "50.0", "abc", "500"])("sends a page size it offers, not top=%j from the address", async (top) => {
    // Arrange: an address edited by hand, or an old bookmark.
    const get = vi.fn(async () => ({ value: [] }));
    const ctx = { ...pageContext({ api: { get } as unknown as ApiClient }), query: new URLSearchParams({ top }) };

    // Act
    await devicesPage(ctx);

    // Assess: the default size is sent, as a number, and the picker shows it.
    expect(get).toHaveBeenCalledWith("/devices", expect.objectContaining({ top: 25 }));
    const picker = byId(ctx.root, "device-top")!;
    const chosen = picker.descendants().filter((o) => o.tagName === "OPTION" && o.getAttribute("selected") !== null);
    expect(chosen.map((o) => o.getAttribute("value"))).toEqual(["25"]);
  });

  it("sends an offered page size from the address as a number", async () => {
    // Arrange
    const get = vi.fn(async () => ({ value: [] }));
    const ctx = { ...pageContext({ api: { get } as unknown as ApiClient }), query: new URLSearchParams({ top: "100" }) };

    // Act
    await devicesPage(ctx);

    // Assess
    expect(get).toHaveBeenCalledWith("/devices", expect.objectContaining({ top: 100 }));
  });
});
