import { Workspace } from '../workspace/workspace.js';
import { Experiment, Run } from './experiment.js';
import { Model } from './model.js';

// Workspace methods of experiment tracking and the model registry, attached to the SDK's Workspace class.
declare module '../workspace/workspace.js' {
  interface Workspace {
    /** The workspace's experiments by name (azureml-core `Workspace.experiments`). */
    experiments(): Promise<Map<string, Experiment>>;
    /** A run of this workspace by id (azureml-core `Workspace.get_run`). */
    getRun(runId: string): Promise<Run>;
    /** The latest version of each registered model, by name (azureml-core `Workspace.models`). */
    models(): Promise<Map<string, Model>>;
  }
}

const W = Workspace.prototype;
W.experiments = async function () {
  return new Map((await Experiment.list(this)).map((e) => [e.name, e]));
};
W.getRun = function (runId: string) {
  return Run.get(this, runId);
};
W.models = async function () {
  return new Map((await Model.list(this, { latest: true })).map((m) => [m.name, m]));
};
