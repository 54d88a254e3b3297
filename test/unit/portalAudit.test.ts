// The portal's audit log page (portal/src/pages/audit.ts): its activity picker offers the
// activities the API records, so an auditor can filter on each.
import { describe, expect, it } from "vitest";
import { activityGroups, activityName } from "../../portal/src/pages/audit.js";

const offered = new Set(activityGroups.flatMap((g) => Object.keys(g.activities)));

describe("portal audit log activities", () => {
  it.each([
    // shared/app/sessions/sessionApprovals.ts: the second person's decision on a request.
    "session.approved",
    "session.denied",
    // shared/app/sessions/connectionReports.ts: a supporter's connection TeamViewer reported.
    "session.connected",
    // shared/app/sessions/endUserRequests.ts: the Company Portal showed the request.
    "session.seen",
    // shared/app/devices/deviceReindex.ts: the device index rebuild.
    "deviceIndex.reindexStarted",
    "deviceIndex.reindexProgress",
    "deviceIndex.reindexFinished",
    "deviceIndex.reindexInterrupted",
    "deviceIndex.reindexAbandoned",
    "deviceIndex.deviceSkipped",
  ])("offers %s in the picker, named in words", (activity) => {
    // Act
    const name = activityName(activity);

    // Assess
    expect(offered.has(activity)).toBe(true);
    expect(name).not.toMatch(/\./);
  });
});
