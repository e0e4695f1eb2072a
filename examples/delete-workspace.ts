// The seed: delete the workspace, and with delete_dependent_resources=True its storage account,
// key vault, application insights and container registry too.
//
//   ws.delete(delete_dependent_resources=True, no_wait=False)
//
// Run: npx tsx examples/delete-workspace.ts
import { Workspace } from '@atelier/sdk';

const ws = await Workspace.get('myworkspace', {
  subscriptionId: process.env.ATELIER_SUBSCRIPTION_ID,
  resourceGroup: 'myresourcegroup',
});
await ws.delete({ deleteDependentResources: true, noWait: false });
console.log(`deleted ${ws.id}`);
