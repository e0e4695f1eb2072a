// The seed's second example: reuse existing resources (resource group, storage account, key vault,
// application insights, container registry) given by ARM id, signing in without the CLI profile.
//
// The seed signs in as a service principal; this example uses a token callback (the seed's
// TokenAuthentication) that signs in with a user name and a password from the environment.
// Set ATELIER_STORAGE_ACCOUNT, ATELIER_KEY_VAULT and ATELIER_APP_INSIGHTS (and optionally
// ATELIER_CONTAINER_REGISTRY) to the ARM ids of existing resources.
//
// Run: ATELIER_ENDPOINT=http://127.0.0.1:8700 ATELIER_USERNAME=admin ATELIER_PASSWORD=... npx tsx examples/create-with-existing-resources.ts
import { Workspace, TokenAuthentication, passwordGrant } from '@atelier/sdk';

const endpoint = process.env.ATELIER_ENDPOINT ?? 'http://127.0.0.1:8700';
const password = process.env.ATELIER_PASSWORD; // the seed: os.environ.get("AZUREML_PASSWORD")
if (!password) throw new Error('set ATELIER_PASSWORD (and ATELIER_USERNAME, default admin)');

const auth = new TokenAuthentication(async () => {
  const grant = await passwordGrant(endpoint, 'common', process.env.ATELIER_USERNAME ?? 'admin', password);
  return { token: grant.accessToken, expiresOnTimestamp: grant.expiresOnTimestamp };
});

const need = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`set ${name} to the ARM id of an existing resource`);
  return v;
};

const ws = await Workspace.create({
  name: 'myworkspace',
  auth,
  endpoint,
  subscriptionId: process.env.ATELIER_SUBSCRIPTION_ID,
  resourceGroup: 'myresourcegroup',
  createResourceGroup: false,
  location: 'eastus2',
  friendlyName: 'My workspace',
  storageAccount: need('ATELIER_STORAGE_ACCOUNT'),
  keyVault: need('ATELIER_KEY_VAULT'),
  appInsights: need('ATELIER_APP_INSIGHTS'),
  containerRegistry: process.env.ATELIER_CONTAINER_REGISTRY || undefined,
  existOk: false,
});
const d = await ws.getDetails();
console.log(
  JSON.stringify({
    id: d.id,
    friendlyName: d.friendlyName,
    storageAccount: d.storageAccount,
    keyVault: d.keyVault,
    applicationInsights: d.applicationInsights,
  }),
);
