// Key Vault for tenants' TeamViewer tokens, the TeamViewer client secret and (optionally)
// the Notification Hubs connection string. RBAC only; purge protection cannot be turned
// off again, so a deleted vault blocks its name for the retention period.
param location string
param tags object
param name string

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
