import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../output.js';
import { deploymentBody, endpointBody } from './endpoint.js';

const ws = { id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w' };

test('endpoint and deployment YAML for an attached Ray compute map to the ARM shapes', () => {
  const ep = endpointBody({ name: 'ray-ep', auth_mode: 'key', compute: 'azureml:ray1' }, 'endpoint.yml');
  assert.deepEqual(ep.body.properties, { authMode: 'Key', compute: 'azureml:ray1' });
  const d = deploymentBody(
    ws,
    {
      name: 'blue',
      endpoint_name: 'ray-ep',
      type: 'kubernetes',
      model: 'azureml:m:1',
      instance_count: 2,
      resources: { requests: { cpu: '100m', memory: '0.5Gi' } },
    },
    'blue.yml',
  );
  assert.equal((d.body.properties as any).endpointComputeType, 'Kubernetes');
  assert.deepEqual((d.body.properties as any).containerResourceRequirements, {
    containerResourceRequests: { cpu: '100m', memory: '0.5Gi' },
  });
  // Without a type the server picks the endpoint's kind (Managed on this machine).
  const plain = deploymentBody(ws, { name: 'blue', endpoint_name: 'ep', model: 'azureml:m:1' }, 'blue.yml');
  assert.equal((plain.body.properties as any).endpointComputeType, undefined);
  assert.throws(() => deploymentBody(ws, { name: 'b', endpoint_name: 'e', type: 'batch' }, 'b.yml'), UsageError);
  assert.throws(
    () => deploymentBody(ws, { name: 'b', endpoint_name: 'e', resources: { limits: { cpu: '1' } } }, 'b.yml'),
    /requests/,
  );
  assert.throws(() => endpointBody({ name: 'e', compute: 3 }, 'e.yml'), /compute/);
});
