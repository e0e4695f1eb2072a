/** The seed's `Workspace` constants (default compute clusters). */
export interface ClusterConfiguration {
  readonly vmSize: string;
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly vmPriority: 'dedicated' | 'lowpriority';
}

export const DEFAULT_CPU_CLUSTER_NAME = 'cpu-cluster';
export const DEFAULT_GPU_CLUSTER_NAME = 'gpu-cluster';
export const DEFAULT_CPU_CLUSTER_CONFIGURATION: ClusterConfiguration = Object.freeze({
  vmSize: 'STANDARD_DS2_V2',
  minNodes: 0,
  maxNodes: 2,
  vmPriority: 'dedicated',
});
export const DEFAULT_GPU_CLUSTER_CONFIGURATION: ClusterConfiguration = Object.freeze({
  vmSize: 'STANDARD_NC6',
  minNodes: 0,
  maxNodes: 2,
  vmPriority: 'dedicated',
});

export const WORKSPACE_PROVIDER = 'Microsoft.MachineLearningServices';
export const WORKSPACE_TYPE = `${WORKSPACE_PROVIDER}/workspaces`;
