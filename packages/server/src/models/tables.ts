/** Row types of the Azure views of the model registry (store/migrations/0675-azure-models.ts). */
export interface AzureModelVersionRow {
  workspace_id: string;
  name: string;
  version: number;
  /** JSON: {@link AzureModelExtras}. */
  body: string;
}
export interface AzureModelAssetRow {
  workspace_id: string;
  id: string;
  name: string;
  created_time: number;
  /** JSON: {artifacts: [{prefix}|{id}], kvTags, properties, runid, description}. */
  body: string;
}

declare module '../store/schema.js' {
  interface Tables {
    azure_model_versions: AzureModelVersionRow;
    azure_model_assets: AzureModelAssetRow;
  }
}
