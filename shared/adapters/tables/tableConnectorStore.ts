// Connector state in Table storage: table `connectors`, partition = tenant, row `teamviewer`.
// Nested values are JSON columns, validated on the way out; every write is etag-guarded.
import { odata, type TableClient } from "@azure/data-tables";
import { z } from "zod";
import { connectorErrorCodes, connectorHealths, connectorId, initialConnectorState, onboardingStatuses, type ConnectorState } from "../../domain/connector.js";
import type { ConnectorStore } from "../../app/connector/ports.js";
import { Contended } from "../../app/contention.js";
import { getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

interface ConnectorEntity {
  generation?: number;
  onboardingStatus: string;
  health?: string;
  account?: string;
  licenseAgreement?: string;
  onboardedAt?: string;
  lastConnectionDateTime?: string;
  lastError?: string;
  onboardingRequestExpiryDateTime?: string;
  pendingStateId?: string;
}

const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "not JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);

const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? null);

const entitySchema = z.object({
  // Rows written before generations existed read as generation 0.
  generation: z
    .number()
    .int()
    .nonnegative()
    .nullish()
    .transform((v) => v ?? 0),
  onboardingStatus: z.enum(onboardingStatuses),
  health: optional(z.enum(connectorHealths)),
  account: optional(json(z.object({ userId: z.string(), name: z.string(), email: z.string().nullable(), companyName: z.string().nullable() }))),
  licenseAgreement: optional(
    json(z.object({ acceptedBy: z.object({ id: z.string(), displayName: z.string() }), acceptedAt: z.string(), version: z.string() })),
  ),
  onboardedAt: optional(z.string()),
  lastConnectionDateTime: optional(z.string()),
  lastError: optional(json(z.object({ code: z.enum(connectorErrorCodes), message: z.string(), at: z.string() }))),
  onboardingRequestExpiryDateTime: optional(z.string()),
  pendingStateId: optional(z.string()),
});

function fromEntity(tenantId: string, e: ConnectorEntity): ConnectorState {
  const parsed = entitySchema.safeParse(e);
  if (!parsed.success) {
    throw new Error(
      `the stored connector of tenant ${tenantId} is not valid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}

/** Only present values are written: Replace drops the rest, and reads map absence to null. */
function toEntity(s: ConnectorState): ConnectorEntity {
  const e: ConnectorEntity = { generation: s.generation, onboardingStatus: s.onboardingStatus };
  if (s.health !== null) e.health = s.health;
  if (s.account !== null) e.account = JSON.stringify(s.account);
  if (s.licenseAgreement !== null) e.licenseAgreement = JSON.stringify(s.licenseAgreement);
  if (s.onboardedAt !== null) e.onboardedAt = s.onboardedAt;
  if (s.lastConnectionDateTime !== null) e.lastConnectionDateTime = s.lastConnectionDateTime;
  if (s.lastError !== null) e.lastError = JSON.stringify(s.lastError);
  if (s.onboardingRequestExpiryDateTime !== null) e.onboardingRequestExpiryDateTime = s.onboardingRequestExpiryDateTime;
  if (s.pendingStateId !== null) e.pendingStateId = s.pendingStateId;
  return e;
}

const maxAttempts = 8;

export class TableConnectorStore implements ConnectorStore {
  readonly #table: TableClient;

  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.connectors);
  }

  async get(tenantId: string): Promise<ConnectorState | undefined> {
    const e = await getOrUndefined<ConnectorEntity>(this.#table, tenantId, connectorId);
    return e ? fromEntity(tenantId, e) : undefined;
  }

  async update(tenantId: string, change: (current: ConnectorState) => ConnectorState | undefined): Promise<ConnectorState> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const e = await getOrUndefined<ConnectorEntity>(this.#table, tenantId, connectorId);
      const current = e ? fromEntity(tenantId, e) : initialConnectorState;
      const next = change(current);
      if (next === undefined) return current;
      // The generation is what every instance compares its cached token against: it never goes back.
      if (next.generation < current.generation) {
        throw new Error(`connector update of tenant ${tenantId} would lower its generation from ${current.generation} to ${next.generation}`);
      }
      const entity = { partitionKey: tenantId, rowKey: connectorId, ...toEntity(next) };
      try {
        if (e) await this.#table.updateEntity(entity, "Replace", { etag: e.etag });
        else await this.#table.createEntity(entity);
        return next;
      } catch (err) {
        // Lost a race with another writer: read again and re-apply the change to what it wrote.
        if (isStatus(err, 412) || isStatus(err, 409)) continue;
        throw err;
      }
    }
    // Many writers at once (a burst of verifies, say): 429 to an HTTP caller, a retry on a queue, not a 500.
    throw new Contended(`the connector of tenant ${tenantId}`, maxAttempts);
  }

  async listOnboarded(): Promise<string[]> {
    return this.#tenants(odata`RowKey eq ${connectorId} and onboardingStatus eq ${onboardingStatuses.onboarded}`);
  }

  async listExpiredOnboardings(now: Date): Promise<string[]> {
    // ISO-8601 UTC strings of one format order like the instants they name.
    return this.#tenants(
      odata`RowKey eq ${connectorId} and onboardingStatus eq ${onboardingStatuses.onboarding} and onboardingRequestExpiryDateTime le ${now.toISOString()}`,
    );
  }

  async #tenants(filter: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.#table.listEntities({ queryOptions: { filter, select: ["PartitionKey"] } })) out.push(e.partitionKey!);
    return out;
  }
}
