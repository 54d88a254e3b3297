// The composition root: the one place that chooses adapters for the ports, from config.
import type { TokenCredential } from "@azure/core-auth";
import type { Config } from "./config.js";
import { systemClock, type Clock } from "./app/clock.js";
import type { AuditLog } from "./app/audit/auditLog.js";
import type { RoleAssignmentStore, SettingsStore, UserStore } from "./app/admin/ports.js";
import { JwtAuthenticator, type Authenticator } from "./adapters/auth/jwtAuthenticator.js";
import { azureCredential, localDevelopmentCredential } from "./adapters/keyvault/credentials.js";
import { KeyVaultSecretStore, type SecretStore } from "./adapters/keyvault/secretStore.js";
import { ServiceBusMessageBus, type MessageBus } from "./adapters/servicebus/messageBus.js";
import { createTables, type Tables } from "./adapters/tables/tables.js";
import { TableAuditLog } from "./adapters/tables/tableAuditLog.js";
import { TableRoleAssignmentStore, TableSettingsStore, TableUserStore } from "./adapters/tables/tableAdminStores.js";
import { queueNames } from "./queueDefinitions.js";
import { Access } from "./app/access.js";
import { AdminService } from "./app/admin/adminService.js";

export interface Services {
  readonly config: Config;
  readonly clock: Clock;
  readonly tables: Tables;
  readonly bus: MessageBus;
  readonly secrets: SecretStore;
  readonly authenticator: Authenticator;
  readonly audit: AuditLog;
  readonly settings: SettingsStore;
  readonly roleAssignments: RoleAssignmentStore;
  readonly users: UserStore;
  readonly access: Access;
  readonly admin: AdminService;
}

export interface ServiceOverrides {
  readonly clock?: Clock;
}

export function buildServices(config: Config, overrides: ServiceOverrides = {}): Services {
  const clock = overrides.clock ?? systemClock;
  // Locally the emulators accept any bearer token; in Azure every SDK uses managed identity.
  const credential: TokenCredential = config.keyVault.allowInsecure ? localDevelopmentCredential : azureCredential(config.azureClientId);
  const tables = createTables(config.tables, credential);
  const bus = new ServiceBusMessageBus(config.serviceBus, credential, queueNames.connectorCommands);
  const secrets = new KeyVaultSecretStore(config.keyVault.uri, credential, { allowInsecure: config.keyVault.allowInsecure });
  const audit = new TableAuditLog(tables, clock);
  const settings = new TableSettingsStore(tables);
  const roleAssignments = new TableRoleAssignmentStore(tables);
  const access = new Access(roleAssignments);
  return {
    config,
    clock,
    tables,
    bus,
    secrets,
    authenticator: new JwtAuthenticator(config.auth),
    audit,
    settings,
    roleAssignments,
    users: new TableUserStore(tables),
    access,
    admin: new AdminService({ access, assignments: roleAssignments, settings, audit, clock }),
  };
}
