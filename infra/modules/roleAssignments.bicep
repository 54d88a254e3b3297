// Least-privilege data-plane roles for the app's user-assigned identity (and one for the
// deployer). Built-in role definition GUIDs are listed once here; the test
// test/unit/infra.roles.test.ts checks them against the role names.
param appPrincipalId string

@description('Object id of whoever runs azd; empty = none. Gets Key Vault Secrets Officer only, to store the TeamViewer client secret.')
param deployerPrincipalId string

@description('Object id of the platform\'s inventory sync identity; empty = none. Gets Service Bus Data Sender on automation-events only.')
param inventorySyncPrincipalId string

param storageAccountName string
param serviceBusNamespaceName string
param serviceBusQueueNames array
param grantServiceBusOwnerForScaling bool
param keyVaultName string
param applicationInsightsName string

var roles = {
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2026-01-01' existing = {
  name: serviceBusNamespaceName
}

resource keyVault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Host storage: Blob Data Owner is the documented minimum for AzureWebJobsStorage
// (timer leases, host keys) and lets the Flex runtime read the deployment container.
// No Queue role: nothing here uses the Blob trigger or Durable Functions.
resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The app's state lives in tables (and the host writes diagnostic events there).
resource storageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Who may name a tenant: a message's tenantId is trusted only because its producer is
// trusted for every tenant. So Data Sender goes to this app's identity, per queue (never on
// the namespace, so it reaches no other entity), and to the platform's inventory sync on
// automation-events alone; a tenant's own automation calls POST /api/automation/events.
resource serviceBusSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in serviceBusQueueNames: {
  name: guid(serviceBus.id, queueName, appPrincipalId, roles.serviceBusDataSender)
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource automationEventsQueue 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' existing = {
  parent: serviceBus
  name: 'automation-events'
}

resource inventorySyncSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(inventorySyncPrincipalId)) {
  name: guid(automationEventsQueue.id, inventorySyncPrincipalId, roles.serviceBusDataSender)
  scope: automationEventsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: inventorySyncPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Queue triggers (and the dead-letter readers) receive and settle messages. Per queue like
// the Sender: a queue's assignment covers its $DeadLetterQueue, and the app reads no
// other entity.
resource serviceBusReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in serviceBusQueueNames: {
  name: guid(serviceBus.id, queueName, appPrincipalId, roles.serviceBusDataReceiver)
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Why Data Owner at all: target-based scaling sizes each Service Bus function by its
// queue's message count. Per learn.microsoft.com (functions-target-based-scaling) Manage
// rights scale best and Listen-only falls back to slower incremental scaling. Data Owner
// is the only built-in data role that carries Manage (an inference, not stated by Microsoft
// for RBAC), and the official Flex + Service Bus azd sample grants it too. It is scoped to
// the app's queues rather than the namespace, so it reaches no other entity, and it can be
// switched off with grantServiceBusOwnerForScaling (Sender + Receiver still suffice to run).
resource queues 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' existing = [for queueName in serviceBusQueueNames: {
  parent: serviceBus
  name: queueName
}]

resource serviceBusQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in serviceBusQueueNames: if (grantServiceBusOwnerForScaling) {
  name: guid(serviceBus.id, queueName, appPrincipalId, roles.serviceBusDataOwner)
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// The app writes tenants' TeamViewer tokens (connector onboarding, refresh), so it needs
// Officer, not just Secrets User.
resource keyVaultOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, appPrincipalId, roles.keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The operator stores the TeamViewer client secret after provisioning (docs/deploy.md).
// No principalType: azd may run as a user or as a pipeline's service principal.
resource deployerKeyVaultOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(keyVault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
  }
}

// Application Insights with local auth disabled accepts telemetry only from this role.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
