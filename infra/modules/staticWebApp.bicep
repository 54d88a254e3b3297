// The portal (admin console and Company Portal pages) on Azure Static Web Apps. azd deploys
// the built portal to it (azure.yaml service "web", found by the azd-service-name tag); the
// portal's headers (CSP and the rest) come from portal/staticwebapp.config.json.
param location string
param tags object
param name string

@description('Free is enough for a static portal; Standard adds an SLA and custom auth.')
@allowed([
  'Free'
  'Standard'
])
param sku string

resource site 'Microsoft.Web/staticSites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'web'
  })
  sku: {
    name: sku
    tier: sku
  }
  properties: {
    // azd uploads the built files; no repository is connected.
    provider: 'None'
    allowConfigFileUpdates: true
    stagingEnvironmentPolicy: 'Disabled'
  }
}

output name string = site.name
// https://<name>.<region>.azurestaticapps.net, without a trailing slash: this is the origin
// the function app's CORS allows.
output origin string = 'https://${site.properties.defaultHostname}'
