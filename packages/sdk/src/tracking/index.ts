/** Experiment tracking and the model registry in the SDK (over each workspace's MLflow tracking URI). */
import './workspace-tracking.js';
export { Experiment, Run, type MetricValue, type MlflowRun, type MlflowExperiment } from './experiment.js';
export { Model, type MlflowModelVersion, type RegisterModelOptions } from './model.js';
export { TrackingClient, type TrackingWorkspace, type TransferProgress as TrackingTransferProgress } from './client.js';
