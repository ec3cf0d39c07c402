// The Flex Consumption (FC1) plan and the Linux Python Function App that
// hosts the adapter, with its app settings and hardened site settings.

@description('Name of the Function App.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app (the app also gets azd-service-name).')
param tags object = {}

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (AzureWebJobsStorage, Application Insights, Foundry).')
param identityClientId string

@description('Name of the storage account for the Functions host and the deployment package.')
param storageAccountName string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Foundry project endpoint, https://<account>.services.ai.azure.com/api/projects/<project>.')
param projectEndpoint string

@description('Path of an agents YAML file inside the deployment package, or empty to use the project endpoint only.')
param agentsConfig string = ''

@description('api-version sent to the Foundry Agents API.')
param agentsApiVersion string = 'v1'

@description('Comma-separated gateway keys (plain or sha256:<hex>), or a Key Vault reference @Microsoft.KeyVault(SecretUri=...).')
@secure()
param gatewayApiKeys string

@description('Comma-separated object or client ids let in by App Service Authentication when it is enabled; empty lets in every principal it authenticates.')
param easyAuthAllowedPrincipals string = ''

@description('Key that seals the ids handed to callers (ID_SIGNING_KEY; at least 32 characters, new key first and previous ones after it while rotating), or a Key Vault reference @Microsoft.KeyVault(SecretUri=...); empty derives one from the gateway keys.')
@secure()
param idSigningKey string = ''

@description('Agents the gateway serves: ids, names or globs, comma-separated; empty serves the configured ones and every agent of the project.')
param exposedAgents string = ''

@description('Origins browsers may call the adapter from (CORS), comma-separated; empty allows none. Leave the platform CORS setting empty when using it.')
param corsAllowOrigins string = ''

@description('Public base URL for the links the adapter hands out (agent cards), e.g. behind a custom domain; empty uses the app host name.')
param publicBaseUrl string = ''

@description('Adapter settings that replace the defaults below, e.g. { COMPLETION_DEADLINE: \'200\' }.')
param adapterSettingsOverrides object = {}

@description('Upper bound of instances the app scales out to.')
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

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Every setting of agents_core.config.Settings; tests/test_infra.py checks
// this list against the class and against local.settings.sample.json.
var adapterSettings = {
  AZURE_AI_PROJECT_ENDPOINT: projectEndpoint
  AGENTS_CONFIG: agentsConfig
  AZURE_AI_AGENTS_API_VERSION: agentsApiVersion
  AZURE_AI_PROJECTS_API_VERSION: 'v1'
  DROP_PARAMS: 'false'
  AZURE_MANAGED_IDENTITY_CLIENT_ID: identityClientId
  GATEWAY_API_KEYS: gatewayApiKeys
  EASY_AUTH_ALLOWED_PRINCIPALS: easyAuthAllowedPrincipals
  ID_SIGNING_KEY: idSigningKey
  MAX_BODY_BYTES: '29360128'
  MAX_MESSAGES: '256'
  MAX_BUFFERED_BYTES: '134217728'
  BODY_READ_TIMEOUT: '30'
  EXPOSED_AGENTS: exposedAgents
  PUBLIC_AGENT_CARDS: 'false'
  A2A_DEFAULT_AGENT: ''
  CORS_ALLOW_ORIGINS: corsAllowOrigins
  PUBLIC_BASE_URL: publicBaseUrl
  TRUSTED_PROXIES: ''
  UPSTREAM_CONNECT_TIMEOUT: '10'
  UPSTREAM_READ_TIMEOUT: '120'
  UPSTREAM_RETRY_DEADLINE: '20'
  COMPLETION_DEADLINE: '220'
  STREAM_DEADLINE: '600'
  HEARTBEAT_INTERVAL: '15'
  PLAYGROUND: 'true'
  THREAD_RETENTION_DAYS: '30'
  THREAD_CLEANUP_BATCH: '200'
}

// Host and platform settings: identity-based storage, Entra-authenticated
// telemetry, and init indexing for the HTTP streaming extension. These win
// over adapterSettingsOverrides.
var platformSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The adapter configures Azure Monitor itself, passing this identity (the
  // worker's own setup would send no credential, which local-auth-off refuses).
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'false'
  PYTHON_ENABLE_INIT_INDEXING: '1'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: FC1 zone redundancy exists only in some regions; the pay-per-call default keeps it off
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

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: a public API by design; callers authenticate with gateway keys checked by the adapter
  // checkov:skip=CKV_AZURE_17: clients (OpenAI SDK, A2A) authenticate with gateway keys, not TLS client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero by design (pay per call); there is no minimum instance count
  // checkov:skip=CKV_AZURE_213: platform health check is not supported on Flex Consumption
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
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
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(union(adapterSettings, adapterSettingsOverrides, platformSettings)): {
        name: setting.key
        value: setting.value
      }]
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
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No basic (user name + password) publishing credentials: deployment goes
// through Entra-authenticated OneDeploy only.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
