// The seed: list every workspace the user can see in a subscription (optionally one resource group).
//
//   Workspace.list(subscription_id, resource_group=None)
//
// Run: npx tsx examples/list-workspaces.ts [resource-group]
import { Workspace } from '@atelier/sdk';

const all = await Workspace.list({
  subscriptionId: process.env.ATELIER_SUBSCRIPTION_ID,
  resourceGroup: process.argv[2],
});
for (const [name, workspaces] of all) {
  console.log(`${name}: ${workspaces.map((w) => `${w.resourceGroup} (${w.location})`).join(', ')}`);
}
