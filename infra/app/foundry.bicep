// Optional: a new Foundry account (AIServices) with one project and one model
// deployment, for a fresh environment. Key auth is disabled; callers use Entra.

@description('Name of the Foundry account; also its custom subdomain.')
param accountName string

@description('Name of the Foundry project.')
param projectName string

@description('Region of the account (must offer the model below).')
param location string

@description('Tags applied to the account and project.')
param tags object = {}

@description('Model to deploy for the agents, or empty to deploy none.')
param modelName string = 'gpt-4.1-mini'

@description('Version of that model.')
param modelVersion string = '2025-04-14'

@description('Deployment SKU of that model.')
param modelSkuName string = 'GlobalStandard'

@description('Capacity of the deployment, in thousands of tokens per minute.')
param modelCapacity int = 10

resource account 'Microsoft.CognitiveServices/accounts@2025-06-01' = {
  // checkov:skip=CKV_AZURE_134: the Flex app (no VNet) calls Foundry over its public endpoint; local (key) auth is disabled, access needs Entra RBAC
  name: accountName
  location: location
  tags: tags
  kind: 'AIServices'
  sku: {
    name: 'S0'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    allowProjectManagement: true
    customSubDomainName: accountName
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource project 'Microsoft.CognitiveServices/accounts/projects@2025-06-01' = {
  parent: account
  name: projectName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    displayName: projectName
    description: 'Agents exposed through the OpenAI / A2A adapter.'
  }
}

resource modelDeployment 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01' = if (!empty(modelName)) {
  parent: account
  name: empty(modelName) ? 'none' : modelName // never empty, even when skipped
  sku: {
    name: modelSkuName
    capacity: modelCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
  }
  // One write at a time on the account: the project first, then the model.
  dependsOn: [
    project
  ]
}

output accountName string = account.name
output projectName string = project.name
output projectId string = project.id
output projectEndpoint string = project.properties.endpoints['AI Foundry API']
