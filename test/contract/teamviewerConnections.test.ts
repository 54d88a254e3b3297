// Contract: the TeamViewer client's connection report against the TeamViewer fake over HTTP:
// paging by offset_id, the unconfirmed variants (code with or without its prefix, records
// listed live or only after they ended), the window, authentication and the call log.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TeamViewerClient } from "../../shared/adapters/teamviewer/teamViewerClient.js";
import { startTeamViewerFake, type TeamViewerFake } from "../../local/teamviewer/server.js";
import { teamViewerErrorExpectation } from "./teamviewer.helpers.js";

const clientSecret = `contract-secret-${crypto.randomUUID()}`;
let fake: TeamViewerFake;
let client: TeamViewerClient;
let accessToken: string;
const secrets = new Set<string>([clientSecret]);
const expectTeamViewerError = teamViewerErrorExpectation(secrets);

const now = Date.now();
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const window = { from: new Date(now - 3_600_000), to: new Date(now) };

beforeAll(async () => {
  fake = await startTeamViewerFake({ port: 0, clientSecret });
  client = new TeamViewerClient({
    apiBaseUrl: fake.apiBaseUrl,
    loginBaseUrl: fake.url,
    clientId: "local-client-id",
    clientSecret: async () => clientSecret,
    redirectUri: "http://app.test/api/connector/oauth/callback",
    timeoutMs: 5_000,
  });
  const location = await fake.control.signIn(client.authorizeUrl("contract"));
  const code = location.searchParams.get("code") ?? "";
  accessToken = (await client.exchangeCode(code)).accessToken;
  secrets.add(code).add(accessToken);
  for (let i = 0; i < 5; i++) {
    await fake.control.addConnection({
      id: `c${i}`,
      session_code: `s12-345-67${i}`,
      userid: `u${i}`,
      username: `Supporter ${i}`,
      start_date: iso(now - 600_000 + i * 60_000),
      end_date: iso(now - 550_000 + i * 60_000),
    });
  }
  await fake.control.addConnection({ id: "open", session_code: "s99-999-999", userid: "u9", username: "Still There", start_date: iso(now - 60_000) });
  await fake.control.addConnection({
    id: "old",
    session_code: "s11-111-111",
    userid: "u8",
    username: "Yesterday",
    start_date: iso(now - 86_400_000),
    end_date: iso(now - 86_000_000),
  });
});

beforeEach(async () => {
  await fake.control.setVariants({ connectionsPageSize: 1000, connectionCodeForm: "prefixed", connectionReportDelaySeconds: null });
  await fake.control.clearCalls();
});

afterAll(async () => {
  await fake?.close();
});

describe("TeamViewer connection report", () => {
  it("pages by offset_id until nothing remains, oldest first, only inside the window, one logged call per page", async () => {
    // Prepare
    await fake.control.setVariants({ connectionsPageSize: 2 });
    // Act
    const ids: string[] = [];
    let offsetId: string | undefined;
    let pages = 0;
    do {
      const page = await client.listConnections(accessToken, { ...window, ...(offsetId === undefined ? {} : { offsetId }) });
      ids.push(...page.records.map((r) => r.id));
      offsetId = page.nextOffset;
      pages++;
    } while (offsetId !== undefined && pages < 10);
    // Assess
    expect(ids).toEqual(["c0", "c1", "c2", "c3", "c4", "open"]);
    expect(pages).toBe(3);
    const calls = (await fake.control.calls()).filter((c) => c.path === "/api/v1/reports/connections");
    expect(calls.map((c) => c.status)).toEqual([200, 200, 200]);
    expect(calls[0].query).toContain("has_code=true");
  });

  it("reads each record's supporter, times and code, with or without the s prefix; an open one has no end", async () => {
    // Act
    const prefixed = await client.listConnections(accessToken, window);
    await fake.control.setVariants({ connectionCodeForm: "bare" });
    const bare = await client.listConnections(accessToken, window);
    // Assess
    expect(prefixed.records[0]).toEqual({
      id: "c0",
      userId: "u0",
      userName: "Supporter 0",
      startDate: new Date(iso(now - 600_000)),
      endDate: new Date(iso(now - 550_000)),
      sessionCode: "s12-345-670",
    });
    expect(bare.records[0].sessionCode).toBe("12-345-670");
    expect(prefixed.records.find((r) => r.id === "open")?.endDate).toBeUndefined();
  });

  it("lists a connection only after it ended when the report is delayed", async () => {
    // Prepare
    await fake.control.setVariants({ connectionReportDelaySeconds: 0 });
    // Act
    const page = await client.listConnections(accessToken, window);
    // Assess
    expect(page.records.map((r) => r.id)).toEqual(["c0", "c1", "c2", "c3", "c4"]);
  });

  it("needs a valid token like every Web API route, and a known offset", async () => {
    // Act / Assess
    await expectTeamViewerError(client.listConnections("not-a-token-anyone-issued", window), "invalidToken");
    await expectTeamViewerError(client.listConnections(accessToken, { ...window, offsetId: "nobody-gave-this" }), "badRequest");
    await expectTeamViewerError(client.listConnections(accessToken, { from: window.to, to: window.from }), "badRequest");
  });

  it("skips a record it cannot read and keeps the rest of the page", async () => {
    // Prepare: TeamViewer answers one odd record among good ones.
    await fake.control.failNext({
      method: "GET",
      path: "/api/v1/reports/connections",
      status: 200,
      body: {
        records: [
          { id: "a", userid: "u1", start_date: "2026-12-05T09:00:00Z", session_code: "s1" },
          { id: "b", start_date: 5 },
        ],
        records_remaining: 0,
      },
    });
    // Act
    const page = await client.listConnections(accessToken, window);
    // Assess
    expect(page.records.map((r) => r.id)).toEqual(["a"]);
    expect(page.unreadable).toBe(1);
    expect(page.nextOffset).toBeUndefined();
  });
});
