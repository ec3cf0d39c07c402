// Every role assignment of the deployment, each scoped to one resource (never
// the resource group). main.bicep deploys this module into the app's resource
// group (storage, Application Insights and a newly created Foundry project)
// and, when an existing Foundry project lives elsewhere, a second time into
// that project's resource group. An empty name skips that resource's roles.

@description('Principal id of the Function App\'s managed identity.')
param appPrincipalId string

@description('Optional principal id of the deploying user or pipeline, given Azure AI User on the project so local runs with az login work. Empty to skip.')
param userPrincipalId string = ''

@description('Principal type of userPrincipalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param userPrincipalType string = 'User'

@description('Storage account of the Functions host in this resource group, or empty.')
param storageAccountName string = ''

@description('Application Insights component in this resource group, or empty.')
param applicationInsightsName string = ''

@description('Foundry account (Microsoft.CognitiveServices/accounts) in this resource group, or empty.')
param foundryAccountName string = ''

@description('Foundry project (child of foundryAccountName), or empty.')
param foundryProjectName string = ''

// Built-in role definition ids.
var azureAiUser = '53ca6127-db72-4b80-b1b0-d745d6d5456d'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

var assignStorage = !empty(storageAccountName)
var assignMonitoring = !empty(applicationInsightsName)
var assignFoundry = !empty(foundryAccountName) && !empty(foundryProjectName)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource foundryAccount 'Microsoft.CognitiveServices/accounts@2025-06-01' existing = {
  name: foundryAccountName
}

resource foundryProject 'Microsoft.CognitiveServices/accounts/projects@2025-06-01' existing = {
  parent: foundryAccount
  name: foundryProjectName
}

// The app calls the Foundry Agents API of this project (data actions only).
resource appFoundryUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignFoundry) {
  name: guid(subscription().id, resourceGroup().name, foundryAccountName, foundryProjectName, appPrincipalId, azureAiUser)
  scope: foundryProject
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureAiUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The developer, so the adapter can run locally with az login.
resource userFoundryUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignFoundry && !empty(userPrincipalId)) {
  name: guid(subscription().id, resourceGroup().name, foundryAccountName, foundryProjectName, userPrincipalId, azureAiUser)
  scope: foundryProject
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureAiUser)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

// Host storage (leases, keys) and the deployment package container.
resource appStorageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignStorage) {
  name: guid(subscription().id, resourceGroup().name, storageAccountName, appPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Entra-authenticated telemetry ingestion (local auth is disabled).
resource appMonitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignMonitoring) {
  name: guid(subscription().id, resourceGroup().name, applicationInsightsName, appPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
