// The seed: point MLflow at the workspace.
//
//   import mlflow
//   workspace = Workspace.from_config()
//   mlflow.set_tracking_uri(workspace.get_mlflow_tracking_uri())
//
// In TypeScript there is no mlflow module; MLflow clients read MLFLOW_TRACKING_URI, which this
// prints as a shell line: eval "$(npx tsx examples/mlflow-tracking-uri.ts)"
import { Workspace } from '@atelier/sdk';
import { enterExamplesFolder } from './folder.js';

enterExamplesFolder(); // where write-config.ts left .azureml/config.json

const workspace = await Workspace.fromConfig();
console.log(`export MLFLOW_TRACKING_URI='${workspace.getMlflowTrackingUri()}'`);
