// Remote Assistance Connector on Azure: one resource group holding the Flex Consumption
// function app and everything it talks to, reached only through a user-assigned identity.
// Deployed by `azd up` (azure.yaml); see docs/deploy.md.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('azd environment name; feeds the resource names and the azd-env-name tag.')
param environmentName string

@description('Region for every resource. The region must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('Object id of the person or pipeline running azd (AZURE_PRINCIPAL_ID). It gets Key Vault Secrets Officer so it can store the TeamViewer client secret. Empty = no assignment.')
param principalId string = ''

@description('Service Bus tier. Standard is pay-per-operation; Premium reserves messaging units.')
@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

@description('Premium messaging units (ignored for Standard).')
@allowed([
  1
  2
  4
  8
  16
])
param serviceBusPremiumCapacity int = 1

@description('Grant Azure Service Bus Data Owner on each queue so the scale controller can read queue lengths for target-based scaling (see modules/roleAssignments.bicep).')
param grantServiceBusOwnerForScaling bool = true

@description('Object id of the platform\'s inventory sync identity, which gets Service Bus Data Sender on automation-events only (it is trusted for every tenant). Empty = none; tenants\' own automation uses POST /api/automation/events.')
param inventorySyncPrincipalId string = ''

@description('Create Azure Notification Hubs for end-user push. Off = requests reach end users only through the Company Portal inbox.')
param enableNotificationHubs bool = false

@description('Notification Hubs namespace tier.')
@allowed([
  'Free'
  'Basic'
  'Standard'
])
param notificationHubsSku string = 'Free'

@minLength(1)
@description('Client id of the TeamViewer app registration (its secret goes to Key Vault, never here).')
param teamViewerClientId string

@description('TeamViewer Web API base URL.')
param teamViewerApiBaseUrl string = 'https://webapi.teamviewer.com/api/v1'

@description('TeamViewer OAuth base URL.')
param teamViewerLoginBaseUrl string = 'https://login.teamviewer.com'

@description('Entra ID tenant that issues the callers\' tokens. Empty = the subscription\'s tenant.')
param authTenantId string = ''

@minLength(1)
@description('Accepted token audience: the API app registration\'s client id (v2 tokens) or its App ID URI (v1 tokens).')
param authAudience string

@description('Where the OAuth callback sends the admin back to. Empty = the portal\'s Static Web App (its https://<name>.azurestaticapps.net/ root).')
param portalUrl string = ''

@description('Static Web Apps tier of the portal.')
@allowed([
  'Free'
  'Standard'
])
param portalSku string = 'Free'

@description('Region of the portal\'s Static Web App (the service is offered in a few regions only; the content is served globally).')
param portalLocation string = 'westeurope'

@description('Function app name override. Empty = func-api-<token>. The TeamViewer redirect URI is https://<name>.azurewebsites.net/api/connector/oauth/callback.')
param functionAppName string = ''

@description('Upper bound on Flex Consumption instances (1-1000).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per Flex Consumption instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the HTTP group. 0 = scale to zero (cold starts); every instance above 0 is billed around the clock.')
@minValue(0)
param alwaysReadyHttpInstances int = 0

@description('Log Analytics retention in days.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var siteName = empty(functionAppName) ? 'func-api-${resourceToken}' : functionAppName
var tokenTenantId = empty(authTenantId) ? subscription().tenantId : authTenantId
// Token endpoints of the cloud this deploys to (public cloud: https://login.microsoftonline.com/).
var loginEndpoint = environment().authentication.loginEndpoint
// The Flex deployment container holds the zip azd uploads; one per app.
var deploymentContainerName = 'app-package-${toLower(take(siteName, 32))}-${take(resourceToken, 7)}'
// Fixed here, not read back from the conditional module, so the app settings and the
// hub (and its Key Vault secret) cannot disagree.
var notificationHubName = 'remote-assistance'
var notificationHubConnectionSecretName = 'notification-hub-connection'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-api-${resourceToken}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    retentionInDays: logRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: 'st${resourceToken}'
    deploymentContainerName: deploymentContainerName
  }
}

module serviceBus 'modules/serviceBus.bicep' = {
  name: 'serviceBus'
  params: {
    location: location
    tags: tags
    name: 'sb-${resourceToken}'
    sku: serviceBusSku
    premiumCapacity: serviceBusPremiumCapacity
  }
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'keyVault'
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}'
  }
}

module notificationHubs 'modules/notificationHubs.bicep' = if (enableNotificationHubs) {
  name: 'notificationHubs'
  params: {
    location: location
    tags: tags
    namespaceName: 'ntfns-${resourceToken}'
    hubName: notificationHubName
    sku: notificationHubsSku
    keyVaultName: keyVault.outputs.name
    connectionSecretName: notificationHubConnectionSecretName
  }
}

module portal 'modules/staticWebApp.bicep' = {
  name: 'portal'
  params: {
    location: portalLocation
    tags: tags
    name: 'stapp-${resourceToken}'
    sku: portalSku
  }
}

// The portal's own origin unless portalUrl points elsewhere (a custom domain): the API's
// CORS allows exactly this origin, and PORTAL_URL names it.
var portalRootUrl = empty(portalUrl) ? '${portal.outputs.origin}/' : portalUrl
// 'https://host/path' -> 'https://host'
var portalOrigin = join(take(split(portalRootUrl, '/'), 3), '/')

// Role assignments come before the app so the identity can reach storage when the host
// first starts (Entra role propagation can still take a few minutes).
module roleAssignments 'modules/roleAssignments.bicep' = {
  name: 'roleAssignments'
  params: {
    appPrincipalId: identity.properties.principalId
    deployerPrincipalId: principalId
    inventorySyncPrincipalId: inventorySyncPrincipalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    serviceBusQueueNames: serviceBus.outputs.queueNames
    grantServiceBusOwnerForScaling: grantServiceBusOwnerForScaling
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'functionApp'
  dependsOn: [
    roleAssignments
  ]
  params: {
    location: location
    tags: tags
    name: siteName
    planName: 'plan-${resourceToken}'
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    keyVaultUri: keyVault.outputs.uri
    teamViewerClientId: teamViewerClientId
    teamViewerApiBaseUrl: teamViewerApiBaseUrl
    teamViewerLoginBaseUrl: teamViewerLoginBaseUrl
    authIssuer: '${loginEndpoint}${tokenTenantId}/v2.0'
    authAudience: authAudience
    authJwksUri: '${loginEndpoint}${tokenTenantId}/discovery/v2.0/keys'
    portalUrl: portalRootUrl
    portalOrigin: portalOrigin
    enableNotificationHubs: enableNotificationHubs
    notificationHubName: notificationHubName
    notificationHubConnectionSecretName: notificationHubConnectionSecretName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
  }
}

// Resource logs (Key Vault audit, Service Bus, tables, the function app) to the workspace.
// After the function app module, whose output names the site the last setting attaches to.
module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  params: {
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    keyVaultName: keyVault.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    storageAccountName: storage.outputs.name
    functionAppName: functionApp.outputs.name
  }
}

// azd stores these in the environment (.azure/<env>/.env); docs/deploy.md uses them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = subscription().tenantId
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output TEAMVIEWER_REDIRECT_URI string = functionApp.outputs.teamViewerRedirectUri
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output AUTH_ISSUER string = '${loginEndpoint}${tokenTenantId}/v2.0'
output SERVICE_WEB_NAME string = portal.outputs.name
output PORTAL_URL string = portalRootUrl
output AUTH_TENANT_ID string = tokenTenantId
output AUTH_AUDIENCE string = authAudience
output TEAMVIEWER_CLIENT_SECRET_NAME string = functionApp.outputs.teamViewerClientSecretName
