// The seed: load the workspace from a config file (searched in .azureml/, aml_config/ and the
// folder itself, walking up from the current folder), then print its details.
//
//   ws = Workspace.from_config()
//   ws.get_details()
//
// Run: npx tsx examples/from-config.ts   (in or below a folder with .azureml/config.json)
import { Workspace } from '@atelier/sdk';

const ws = await Workspace.fromConfig();
console.log(JSON.stringify(await ws.getDetails(), null, 2));

// A config file elsewhere, under another name:
const other = await Workspace.fromConfig({ path: './file-path', fileName: 'ws_config.json' });
console.log(`also loaded ${other.name} from ./file-path/ws_config.json`);
