// Flex Consumption plan and function app (Node 22, Linux), running as the user-assigned
// identity. Every app setting is a name the app's config schema (shared/config.ts) or the
// Functions host reads; no connection strings or keys (test/unit/infra.appSettings.test.ts).
param location string
param tags object
param name string
param planName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param serviceBusFullyQualifiedNamespace string
param keyVaultUri string
param teamViewerClientId string
param teamViewerApiBaseUrl string
param teamViewerLoginBaseUrl string
param authIssuer string
param authAudience string
param authJwksUri string

@description('The portal\'s root URL (PORTAL_URL): where the OAuth callback sends the admin back to.')
param portalUrl string

@description('The portal\'s origin (scheme://host[:port]): the only origin CORS allows.')
param portalOrigin string

param enableNotificationHubs bool
param notificationHubName string
param notificationHubConnectionSecretName string
param maximumInstanceCount int
param instanceMemoryMB int
param alwaysReadyHttpInstances int

// The name the app looks the TeamViewer client secret up under in Key Vault.
var teamViewerClientSecretName = 'teamviewer-client-secret'

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  // azd finds the deployment target by this tag (azure.yaml service "api").
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      // The deployment (SCM) endpoint too: azd's OneDeploy talks TLS 1.2.
      scmMinTlsVersion: '1.2'
      // Off is the default; stated so no portal toggle or API default change turns it on
      // unnoticed (a debugger attached to production would see tenants' tokens in memory).
      remoteDebuggingEnabled: false
      // The portal runs on its own origin (Static Web Apps) and calls the API with a bearer
      // token: exactly that origin, no credentials (cookies) needed.
      cors: {
        allowedOrigins: [
          portalOrigin
        ]
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReadyHttpInstances > 0 ? [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
        ] : []
      }
      // Node 20 reached end of life in April 2026; the code still runs on Node >= 20.
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// azd deploys with an Entra token (OneDeploy), so publishing with basic credentials
// (FTP, SCM user/password) is switched off.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

var siteUrl = 'https://${site.properties.defaultHostName}'
var teamViewerRedirectUri = '${siteUrl}/api/connector/oauth/callback'

// Flex Consumption must NOT get FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
// WEBSITE_NODE_DEFAULT_VERSION, WEBSITE_RUN_FROM_PACKAGE or WEBSITE_CONTENT*: the runtime
// and deployment come from functionAppConfig above.
var baseSettings = {
  // Functions host storage, identity-based.
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Application Insights with Entra auth (local auth is disabled on the component).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // Service Bus triggers (connection 'ServiceBusConnection') and the app's sender.
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  // The SDKs' DefaultAzureCredential picks the user-assigned identity by this.
  AZURE_CLIENT_ID: identityClientId
  TABLES_ENDPOINT: storage.properties.primaryEndpoints.table
  KEYVAULT_URI: keyVaultUri
  TEAMVIEWER_API_BASE_URL: teamViewerApiBaseUrl
  TEAMVIEWER_LOGIN_BASE_URL: teamViewerLoginBaseUrl
  TEAMVIEWER_CLIENT_ID: teamViewerClientId
  // No TEAMVIEWER_CLIENT_SECRET: without it the app reads the secret from Key Vault.
  TEAMVIEWER_CLIENT_SECRET_NAME: teamViewerClientSecretName
  TEAMVIEWER_REDIRECT_URI: teamViewerRedirectUri
  AUTH_ISSUER: authIssuer
  AUTH_AUDIENCE: authAudience
  AUTH_JWKS_URI: authJwksUri
  PORTAL_URL: portalUrl
}

// Without Notification Hubs there is no push: end users see requests in the Company Portal
// inbox. (The local gateway, which only records pushes, refuses to start off the local stack.)
var pushSettings = enableNotificationHubs ? {
  PUSH_GATEWAY: 'notificationHubs'
  NOTIFICATION_HUB_NAME: notificationHubName
  NOTIFICATION_HUB_CONNECTION_SECRET_NAME: notificationHubConnectionSecretName
} : {
  PUSH_GATEWAY: 'none'
}

var appSettings = union(baseSettings, pushSettings)

resource settings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'appsettings'
  properties: appSettings
}

output name string = site.name
output uri string = siteUrl
output teamViewerRedirectUri string = teamViewerRedirectUri
output teamViewerClientSecretName string = teamViewerClientSecretName
