// Entry point for `azd up` (and `az deployment sub create`): a resource group
// holding a Flex Consumption Function App that runs the adapter with a
// user-assigned managed identity, its storage and monitoring, every role
// assignment it needs, and optionally a new Foundry account + project.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment; seeds the resource names and tags.')
param environmentName string

@minLength(1)
@description('Region of all resources; must offer Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create or reuse; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Resource id of an existing Foundry project: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/accounts/<account>/projects/<project>. Ignored when createFoundryProject is true.')
param foundryProjectResourceId string = ''

@description('Endpoint of that project; default https://<account>.services.ai.azure.com/api/projects/<project> derived from the resource id.')
param foundryProjectEndpoint string = ''

@description('Create a new Foundry account + project (and model deployment) in the resource group instead of using an existing project.')
param createFoundryProject bool = false

@description('Region of a new Foundry account; default the location above.')
param foundryLocation string = ''

@description('Model deployed in a new Foundry account, or empty for none.')
param foundryModelName string = 'gpt-4.1-mini'

@description('Version of that model.')
param foundryModelVersion string = '2025-04-14'

@description('Comma-separated gateway keys clients send as Bearer / api-key (plain or sha256:<hex>), or a Key Vault reference @Microsoft.KeyVault(SecretUri=...) readable by the app identity.')
@secure()
@minLength(1)
param gatewayApiKeys string

@description('With App Service Authentication enabled: comma-separated object or client ids it may let in (EASY_AUTH_ALLOWED_PRINCIPALS); empty for any authenticated principal.')
param easyAuthAllowedPrincipals string = ''

@description('Key that seals the ids handed to callers (ID_SIGNING_KEY, at least 32 characters; "new,old" while rotating), or a Key Vault reference @Microsoft.KeyVault(SecretUri=...) readable by the app identity; empty derives one from the gateway keys.')
@secure()
param idSigningKey string = ''

@description('Path of an agents YAML file inside the deployment package (AGENTS_CONFIG), or empty to serve agents of the project endpoint by id.')
param agentsConfig string = ''

@description('Adapter settings replacing the defaults, e.g. { "COMPLETION_DEADLINE": "200" }.')
param adapterSettingsOverrides object = {}

@description('Principal id of the deploying user, given Azure AI User on the project for local runs; empty to skip.')
param principalId string = ''

@description('Principal type of principalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Upper bound of Function App instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

// Where the Foundry project is: created here, or parsed from its resource id
// (/subscriptions/{2}/resourceGroups/{4}/providers/Microsoft.CognitiveServices/accounts/{8}/projects/{10}).
var projectIdParts = split(foundryProjectResourceId, '/')
var useExistingProject = !createFoundryProject && !empty(foundryProjectResourceId)
var newFoundryAccountName = 'aif-${resourceToken}'
var newFoundryProjectName = 'proj-${resourceToken}'
var existingAccountName = useExistingProject ? projectIdParts[8] : ''
var existingProjectName = useExistingProject ? projectIdParts[10] : ''
var derivedProjectEndpoint = useExistingProject ? 'https://${existingAccountName}.services.ai.azure.com/api/projects/${existingProjectName}' : ''
var projectEndpoint = createFoundryProject ? foundry.outputs.projectEndpoint : (!empty(foundryProjectEndpoint) ? foundryProjectEndpoint : derivedProjectEndpoint)

resource rg 'Microsoft.Resources/resourceGroups@2024-11-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module foundry 'app/foundry.bicep' = if (createFoundryProject) {
  name: 'foundry'
  scope: rg
  params: {
    accountName: newFoundryAccountName
    projectName: newFoundryProjectName
    location: !empty(foundryLocation) ? foundryLocation : location
    tags: tags
    modelName: foundryModelName
    modelVersion: foundryModelVersion
  }
}

// Roles on resources in the app's resource group (and on a new project).
module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    foundryAccountName: createFoundryProject ? newFoundryAccountName : ''
    foundryProjectName: createFoundryProject ? newFoundryProjectName : ''
  }
  dependsOn: [
    foundry
  ]
}

// Azure AI User on an existing project, deployed into that project's resource group.
module rbacExistingProject 'app/rbac.bicep' = if (useExistingProject) {
  name: 'rbac-foundry-${resourceToken}'
  scope: resourceGroup(useExistingProject ? projectIdParts[2] : subscription().subscriptionId, useExistingProject ? projectIdParts[4] : rg.name)
  params: {
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    foundryAccountName: existingAccountName
    foundryProjectName: existingProjectName
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    projectEndpoint: projectEndpoint
    agentsConfig: agentsConfig
    gatewayApiKeys: gatewayApiKeys
    easyAuthAllowedPrincipals: easyAuthAllowedPrincipals
    idSigningKey: idSigningKey
    adapterSettingsOverrides: adapterSettingsOverrides
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
  // Start the app only once its identity can reach storage, telemetry and Foundry.
  dependsOn: [
    rbac
    rbacExistingProject
  ]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_AI_PROJECT_ENDPOINT string = projectEndpoint
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
