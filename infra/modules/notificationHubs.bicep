// Optional Azure Notification Hubs for end-user push. Notification Hubs has no
// managed-identity auth, so its connection string is the one secret the deployment
// cannot avoid: it goes straight into Key Vault and the app reads it from there.
param location string
param tags object
param namespaceName string
param hubName string

@allowed([
  'Free'
  'Basic'
  'Standard'
])
param sku string

param keyVaultName string
param connectionSecretName string

resource namespace 'Microsoft.NotificationHubs/namespaces@2023-09-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    namespaceType: 'NotificationHub'
  }
}

resource hub 'Microsoft.NotificationHubs/namespaces/notificationHubs@2023-09-01' = {
  parent: namespace
  name: hubName
  location: location
  tags: tags
  properties: {}
}

// The back end only sends (to tags user:<oid>); devices register through the Company
// Portal app. So the app's rule has Send only, not the default Listen+Manage+Send rule.
resource sendRule 'Microsoft.NotificationHubs/namespaces/notificationHubs/AuthorizationRules@2023-09-01' = {
  parent: hub
  name: 'app-send'
  properties: {
    rights: [
      'Send'
    ]
  }
}

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource connectionSecret 'Microsoft.KeyVault/vaults/secrets@2025-05-01' = {
  parent: vault
  name: connectionSecretName
  properties: {
    contentType: 'text/plain'
    value: sendRule.listKeys().primaryConnectionString
  }
}

output hubName string = hub.name
