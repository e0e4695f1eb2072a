/**
 * The official Azure JS clients against an Atelier server, as a user would run them:
 * `@azure/identity` ClientSecretCredential (authorityHost = the server) and
 * `@azure/arm-machinelearning` (endpoint = the server). Run by azure-clients.test.ts in a child
 * process with NODE_EXTRA_CA_CERTS set to the server's CA; prints one JSON line of results.
 *
 * Environment: ATELIER_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
 * AZURE_SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE; with ATELIER_USER and ATELIER_PASSWORD also
 * MSAL's public-client flows (UsernamePasswordCredential, DeviceCodeCredential — the device code is
 * approved on the server's /device page as a person would).
 */
import { ClientSecretCredential, DeviceCodeCredential, UsernamePasswordCredential } from '@azure/identity';
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

async function main(): Promise<void> {
  const url = env('ATELIER_URL');
  const credential = new ClientSecretCredential(
    env('AZURE_TENANT_ID'),
    env('AZURE_CLIENT_ID'),
    env('AZURE_CLIENT_SECRET'),
    {
      authorityHost: url,
      disableInstanceDiscovery: true,
    },
  );
  const out: Record<string, unknown> = {};
  const token = await credential.getToken(`${url}/.default`);
  out.tokenExpires = token.expiresOnTimestamp > Date.now();

  const client = new AzureMachineLearningWorkspaces(credential, env('AZURE_SUBSCRIPTION_ID'), {
    endpoint: url,
    $host: url,
  });
  // LROs are polled every 100 ms instead of the SDK's 30 s default.
  const fast = { updateIntervalInMs: 100 };
  const rg = env('RESOURCE_GROUP');
  const name = env('WORKSPACE');

  const created = await client.workspaces.beginCreateOrUpdateAndWait(
    rg,
    name,
    {
      location: 'local',
      friendlyName: 'From the JS SDK',
      description: 'made by @azure/arm-machinelearning',
      tags: { via: 'js' },
    },
    fast,
  );
  out.created = {
    name: created.name,
    provisioningState: created.provisioningState,
    friendlyName: created.friendlyName,
    storageAccount: created.storageAccount,
    workspaceId: created.workspaceId,
  };

  const got = await client.workspaces.get(rg, name);
  out.got = { id: got.id, description: got.description, tags: got.tags, mlFlowTrackingUri: got.mlFlowTrackingUri };

  const inGroup: string[] = [];
  for await (const w of client.workspaces.listByResourceGroup(rg)) inGroup.push(w.name!);
  const inSub: string[] = [];
  for await (const w of client.workspaces.listBySubscription()) inSub.push(w.name!);
  out.listed = { inGroup, inSub };

  const updated = await client.workspaces.beginUpdateAndWait(
    rg,
    name,
    { description: 'updated by the JS SDK', tags: { via: 'js', step: 'update' } },
    fast,
  );
  out.updated = { description: updated.description, tags: updated.tags };

  const keys = await client.workspaces.listKeys(rg, name);
  out.keys = {
    hasStorageKey: Boolean(keys.userStorageKey),
    userStorageResourceId: keys.userStorageResourceId,
    hasInsightsKey: Boolean(keys.appInsightsInstrumentationKey),
  };

  await client.workspaces.beginDeleteAndWait(rg, name, fast);
  try {
    await client.workspaces.get(rg, name);
    out.afterDelete = 'still there';
  } catch (e) {
    out.afterDelete = (e as { statusCode?: number }).statusCode;
  }
  const user = process.env.ATELIER_USER;
  const password = process.env.ATELIER_PASSWORD;
  if (user && password) {
    const ropc = new UsernamePasswordCredential(env('AZURE_TENANT_ID'), 'js-public-client', user, password, {
      authorityHost: url,
      disableInstanceDiscovery: true,
    });
    out.usernamePassword = Boolean((await ropc.getToken(`${url}/.default`)).token);
    let prompted = '';
    const device = new DeviceCodeCredential({
      tenantId: env('AZURE_TENANT_ID'),
      clientId: 'js-device-client',
      authorityHost: url,
      disableInstanceDiscovery: true,
      userPromptCallback: (info) => {
        prompted = info.message;
        void fetch(info.verificationUri, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ code: info.userCode, username: user, password, action: 'approve' }),
        });
      },
    });
    out.deviceCode = Boolean((await device.getToken(`${url}/.default`)).token);
    out.devicePrompt = prompted;
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(
    `${(e as Error).stack ?? String(e)}\n${JSON.stringify((e as { response?: { bodyAsText?: string } }).response?.bodyAsText ?? '')}\n`,
  );
  process.exit(1);
});
