// The seed: load the workspace from a config file (searched in .azureml/, aml_config/ and the
// folder itself, walking up from the current folder), then print its details.
//
//   ws = Workspace.from_config()
//   ws.get_details()
//
// Run: npx tsx examples/from-config.ts   (after write-config.ts: it runs in a sub-folder of the
// examples folder, ATELIER_EXAMPLES_DIR or <temp>/atelier-examples, and finds .azureml/config.json above)
import { Workspace } from '@atelier/sdk';
import { enterExamplesFolder } from './folder.js';

enterExamplesFolder('notebooks');

const ws = await Workspace.fromConfig();
console.log(JSON.stringify(await ws.getDetails(), null, 2));

// A config file elsewhere, under another name:
const other = await Workspace.fromConfig({ path: '../file-path', fileName: 'ws_config.json' });
console.log(`also loaded ${other.name} from ../file-path/ws_config.json`);
