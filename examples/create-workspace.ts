// The seed's first example: create a workspace; the resource group and every dependent resource
// (storage account, key vault, application insights) are made automatically.
//
//   from azureml.core import Workspace
//   ws = Workspace.create(name='myworkspace', subscription_id='<azure-subscription-id>',
//                         resource_group='myresourcegroup', create_resource_group=True, location='eastus2')
//
// Run: npx tsx examples/create-workspace.ts   (after `atelier login`, or with ATELIER_ENDPOINT + ATELIER_TOKEN)
import { Workspace } from '@atelier/sdk';

const ws = await Workspace.create({
  name: 'myworkspace',
  subscriptionId: process.env.ATELIER_SUBSCRIPTION_ID, // '<azure-subscription-id>'; unset = the only one you can see
  resourceGroup: 'myresourcegroup',
  createResourceGroup: true,
  location: 'eastus2',
});
console.log(`created ${ws.id}`);
