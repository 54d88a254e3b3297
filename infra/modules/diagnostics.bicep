// Resource logs to the Log Analytics workspace: one place that says what is logged where
// (docs/deploy.md, "What is logged where"). Retention is the workspace's (logRetentionInDays):
// no setting here keeps a second copy in storage or Event Hubs.
//
// API version: 2021-05-01-preview is the newest there is, and the first with category
// groups and logAnalyticsDestinationType; the only GA version (2016-09-01) has neither, so
// the linter's "use a recent or GA version" finding is switched off for these lines only.
param logAnalyticsWorkspaceId string
param keyVaultName string
param serviceBusNamespaceName string
param storageAccountName string
param functionAppName string

resource keyVault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2026-01-01' existing = {
  name: serviceBusNamespaceName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-01-01' existing = {
  parent: storage
  name: 'default'
}

resource site 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

// Who read, wrote or deleted which secret, from where, with what result. The vault holds
// every tenant's TeamViewer token, so this is the record of who could act as a tenant.
// 'audit' is the AuditEvent category; Dedicated puts it in AZKVAuditLogs.
#disable-next-line use-recent-api-versions
resource keyVaultAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: keyVault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

// Entity operations, and (Premium) runtime data-plane audit: who sent or received on which
// queue. Dedicated puts them in the AZMS* tables.
#disable-next-line use-recent-api-versions
resource serviceBusLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: serviceBus
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

// Every read, write and delete on the app's tables (StorageTableLogs), with the caller's
// identity. Blob logs are left out: the host's lease renewals would dominate them.
#disable-next-line use-recent-api-versions
resource tableLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

// The host's and the functions' logs (FunctionAppLogs), queryable beside the other
// resources' logs; Application Insights keeps the traces and requests.
#disable-next-line use-recent-api-versions
resource functionAppLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}
