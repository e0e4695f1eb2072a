/** Web services (online endpoints and their deployment) in the SDK: `Model.deploy`, `ws.webservices()`, `ws.images()`. */
import { Workspace } from '../workspace/workspace.js';
import { Image } from './image.js';
import { Model } from '../tracking/model.js';
import {
  Webservice,
  type DeploymentConfig,
  type DeployOptions,
  type InferenceConfig,
  type ModelVersionRef,
} from './webservice.js';

export { Image } from './image.js';
export {
  Webservice,
  WEBSERVICE_DEPLOYMENT,
  type DeploymentConfig,
  type DeployOptions,
  type InferenceConfig,
  type ModelVersionRef,
} from './webservice.js';

declare module '../workspace/workspace.js' {
  interface Workspace {
    /** The workspace's web services by name (azureml-core `Workspace.webservices`). */
    webservices(): Promise<Map<string, Webservice>>;
    /**
     * The workspace's images by name, newest first (azureml-core `Workspace.images`): build records
     * of environments and deployment packages (digest, status, build log).
     */
    images(): Promise<Map<string, Image>>;
  }
}

declare module '../tracking/model.js' {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Model {
    /**
     * Deploys registered model versions as a web service (azureml-core `Model.deploy(workspace,
     * name, models, inference_config, deployment_config)`): see `Webservice.deploy`.
     */
    function deploy(
      ws: Workspace,
      name: string,
      models: ModelVersionRef[],
      inferenceConfig?: InferenceConfig,
      deploymentConfig?: DeploymentConfig,
      opts?: DeployOptions,
    ): Promise<Webservice>;
  }
}

Workspace.prototype.webservices = async function () {
  return new Map((await Webservice.list(this)).map((s) => [s.name, s]));
};
Workspace.prototype.images = async function () {
  return new Map((await Image.list(this)).map((i) => [i.name, i]));
};
(Model as unknown as { deploy: typeof Webservice.deploy }).deploy = (ws, name, models, inference, config, opts) =>
  Webservice.deploy(ws, name, models, inference, config, opts);
