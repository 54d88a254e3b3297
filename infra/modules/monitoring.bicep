// Log Analytics workspace and workspace-based Application Insights. Local (key) auth is
// off on both: telemetry is accepted only from Entra identities holding Monitoring Metrics
// Publisher, and the workspace's shared keys cannot be used.
param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string
param retentionInDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    // No workspace (shared) keys: the diagnostic settings and Application Insights write
    // through Azure Monitor, and readers query with their Entra roles.
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = appInsights.name
// Where the other resources' diagnostic settings send their logs (modules/diagnostics.bicep).
output logAnalyticsWorkspaceId string = workspace.id
