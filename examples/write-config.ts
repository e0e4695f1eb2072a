// The seed: save the workspace's ARM properties to a config file, to load it elsewhere.
//
//   ws.write_config(path="./file-path", file_name="ws_config.json")
//
// Run: npx tsx examples/write-config.ts   (writes in ATELIER_EXAMPLES_DIR, default <temp>/atelier-examples)
import { Workspace } from '@atelier/sdk';
import { enterExamplesFolder } from './folder.js';

enterExamplesFolder();

const ws = await Workspace.get('myworkspace', {
  subscriptionId: process.env.ATELIER_SUBSCRIPTION_ID,
  resourceGroup: 'myresourcegroup',
});
const file = ws.writeConfig({ path: './file-path', fileName: 'ws_config.json' });
console.log(`wrote ${file}`);
// Also the default place (.azureml/config.json), which fromConfig() finds from any sub-folder.
console.log(`wrote ${ws.writeConfig()}`);
