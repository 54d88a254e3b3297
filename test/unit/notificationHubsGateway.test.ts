// The Notification Hubs connection string lives in Key Vault. docs/operations.md rotates it by
// regenerating the rule's keys and `azd provision`, which writes the new one: every instance
// must then push with the new one without a restart (the old key no longer works).
import { describe, expect, it } from "vitest";
import { oneSecretVault as vault } from "../support/memoryPorts.js";
import { NotificationHubsPushGateway, type NotificationHubsSender } from "../../shared/adapters/push/notificationHubsPushGateway.js";

/** Hubs that record which connection string each push went out with. */
function hubs(): { sentWith: string[]; createClient: (connectionString: string) => NotificationHubsSender } {
  const sentWith: string[] = [];
  return {
    sentWith,
    createClient: (connectionString) => ({
      sendNotification: () => {
        sentWith.push(connectionString);
        return Promise.resolve({ successCount: 1, failureCount: 0 });
      },
    }),
  };
}

const notification = { tenantId: "t1", userId: "u1", sessionId: "s1", title: "Remote assistance", body: "Your help desk asks to connect." };

describe("the Notification Hubs gateway", () => {
  it("reads the connection string once for many pushes, and uses a rotated one within a few minutes without a restart", async () => {
    // Prepare
    let now = 1_000_000;
    const secrets = vault("Endpoint=sb://ntf/;SharedAccessKeyName=send;SharedAccessKey=key-1");
    const hub = hubs();
    const gateway = new NotificationHubsPushGateway({
      hubName: "remote-assistance",
      connectionSecretName: "notification-hub-connection",
      secrets,
      now: () => now,
      createClient: hub.createClient,
    });
    await gateway.push(notification);

    // Act: the operator regenerates the keys and provisions; pushes go on; a few minutes pass.
    secrets.value = "Endpoint=sb://ntf/;SharedAccessKeyName=send;SharedAccessKey=key-2";
    await Promise.all([gateway.push(notification), gateway.push(notification)]);
    const readsSoon = secrets.reads;
    now += 2 * 60_000;
    await gateway.push(notification);

    // Assess
    expect(readsSoon).toBe(1);
    expect(hub.sentWith.map((c) => c.slice(-5))).toEqual(["key-1", "key-1", "key-1", "key-2"]);
  });

  it("does not keep a failed read: the next push reads again", async () => {
    // Prepare
    const secrets = vault(undefined);
    const hub = hubs();
    const gateway = new NotificationHubsPushGateway({
      hubName: "remote-assistance",
      connectionSecretName: "notification-hub-connection",
      secrets,
      now: () => 0,
      createClient: hub.createClient,
    });

    // Act
    await expect(gateway.push(notification)).rejects.toThrow(/notification-hub-connection/);
    secrets.value = "Endpoint=sb://ntf/;SharedAccessKeyName=send;SharedAccessKey=key-1";
    await gateway.push(notification);

    // Assess
    expect(hub.sentWith).toHaveLength(1);
  });
});
