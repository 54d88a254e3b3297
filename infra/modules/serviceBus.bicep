// Service Bus namespace and its queues. The queues are generated from infra/queues.json,
// the same file the local emulator reads, so Azure and local cannot drift
// (test/unit/infra.queues.test.ts checks the mapping).
param location string
param tags object
param name string

@allowed([
  'Standard'
  'Premium'
])
param sku string

@description('Premium messaging units; ignored for Standard.')
param premiumCapacity int

var queueFile = loadJsonContent('../queues.json')
var isPremium = sku == 'Premium'

resource namespace 'Microsoft.ServiceBus/namespaces@2026-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
    capacity: isPremium ? premiumCapacity : 1
  }
  properties: {
    // SAS keys off: only Entra identities with a data role can send or receive.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' = [for q in queueFile.queues: {
  parent: namespace
  name: q.name
  properties: {
    lockDuration: q.lockDuration
    maxDeliveryCount: q.maxDeliveryCount
    requiresDuplicateDetection: q.requiresDuplicateDetection
    duplicateDetectionHistoryTimeWindow: q.duplicateDetectionHistoryTimeWindow
    defaultMessageTimeToLive: q.defaultMessageTimeToLive
    deadLetteringOnMessageExpiration: q.deadLetteringOnMessageExpiration
    // Not in queues.json because they are fixed by design: no trigger is session-enabled,
    // and partitioning (set only at creation) would make Standard split every queue in 16.
    requiresSession: false
    enablePartitioning: false
  }
}]

output name string = namespace.name
// The host from the namespace itself (https://<ns>.servicebus.windows.net:443/ in the public
// cloud, another suffix in sovereign clouds), not a literal domain.
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]
output queueNames array = [for q in queueFile.queues: q.name]
