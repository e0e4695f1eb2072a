// The seed: load an existing workspace without a config file.
//
//   ws = Workspace.get(name="myworkspace", subscription_id='<azure-subscription-id>', resource_group='myresourcegroup')
//
// Run: npx tsx examples/get-workspace.ts
import { Workspace } from '@atelier/sdk';

const ws = await Workspace.get('myworkspace', {
  subscriptionId: process.env.ATELIER_SUBSCRIPTION_ID,
  resourceGroup: 'myresourcegroup',
});
console.log(
  JSON.stringify({
    name: ws.name,
    resourceGroup: ws.resourceGroup,
    location: ws.location,
    subscriptionId: ws.subscriptionId,
    sku: ws.sku,
    discoveryUrl: ws.discoveryUrl,
  }),
);
