// The portal's route matching (portal/src/routeMatch.ts).
import { describe, expect, it } from "vitest";
import { match } from "../../portal/src/routeMatch.js";

describe("the portal's route matching", () => {
  it("decodes a parameter and refuses paths of another shape", () => {
    expect(match("/devices/:deviceId", "/devices/a%20b")).toEqual({ deviceId: "a b" });
    expect(match("/devices/:deviceId", "/devices/")).toBeUndefined();
    expect(match("/devices/:deviceId", "/sessions/x")).toBeUndefined();
    expect(match("/devices/:deviceId", "/devices/x/y")).toBeUndefined();
  });

  it("finds no page for a segment that is not valid percent-encoding, instead of throwing", () => {
    expect(match("/devices/:deviceId", "/devices/%E0")).toBeUndefined();
    expect(match("/sessions/:sessionId", "/sessions/%zz")).toBeUndefined();
  });
});
