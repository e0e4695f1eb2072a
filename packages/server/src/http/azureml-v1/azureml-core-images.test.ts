import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';
import { uvForTests } from '../../testing/uv.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V = 'api-version=2025-09-01';
const uv = uvForTests();

// Issue 11: azureml-core's Image.create (ContainerImage / InferenceConfig), image tags and deletion,
// and Webservice.deploy_from_image / deploy_from_model / deploy through the real client (one Python
// process per store): an image is a package of model + uploaded code + an environment built by uv,
// served by an online endpoint.
for (const dialect of clientDialects('sqlite')) {
  describe(`azureml-core images (${dialect})`, { skip: uv ? undefined : 'uv is not installed' }, () => {
    let s: AzureClientServer;
    let r: Steps | undefined;
    let W: string;
    let MM: string;
    const saved = process.env.ATELIER_UV;
    const steps = () => {
      assert.ok(r, 'the azureml-core process did not run');
      return r;
    };
    before(async () => {
      process.env.ATELIER_UV = uv;
      s = await startAzureClientServer(dialect, 'v1images');
      await s.workspace('images-ws');
      W = `${s.server.url}${s.workspaceId('images-ws')}`;
      MM = `${s.server.url}/modelmanagement/v1.0${s.workspaceId('images-ws')}`;
    });
    after(async () => {
      await s?.close();
      if (saved === undefined) delete process.env.ATELIER_UV;
      else process.env.ATELIER_UV = saved;
    });

    it('Image.create builds a package azureml-core waits for, finds, lists and tags', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      r = await s.steps(py, path.join(HERE, 'azureml_core_images.py'), { WORKSPACE: 'images-ws' });
      const { ok } = steps();
      ok('Model.register');
      ok('Image.create (ContainerImage)');
      ok('wait_for_creation');
      assert.deepEqual(ok('image attributes'), [
        'ContainerImage',
        'factor-image:1',
        'factor-image',
        1,
        'Succeeded',
        'WebApiContainer',
        ['factor:1'],
        { team: 'a' },
        'seed',
        'triples',
        'driver',
        'Python',
      ]);
      assert.deepEqual(ok('Image(ws, name)'), ['ContainerImage', 'factor-image:1']);
      assert.equal(ok('Image(ws, id)'), 'Succeeded');
      assert.deepEqual(ok('Image.list(image_name)'), ['factor-image:1']);
      assert.ok(ok('Image.list(model_name)').includes('factor-image:1'));
      assert.equal(ok('ws.images'), true);
      assert.deepEqual(ok('image_build_log_uri'), [200, true]);
      ok('update(tags)');
      ok('add_tags');
      ok('remove_tags');
      ok('add_properties');
      assert.deepEqual(ok('after tags'), [{ team: 'b', reviewed: 'yes' }, 'seed', '1']);
    });

    it('deploy_from_image serves the package; the image cannot go while a service uses it', async () => {
      const { ok, err } = steps();
      ok('Webservice.deploy_from_image');
      ok('wait_for_deployment');
      assert.deepEqual(ok('run'), { result: [3, 6] });
      assert.deepEqual(ok('service'), ['AciWebservice', 'ACI', 'Healthy', ['factor:1']]);
      assert.match(err('image.delete (in use)'), /Response Code: 409[\s\S]*is used by webservice \W{1,3}image-svc/);
      ok('service.delete');
      ok('image.delete');
      assert.match(err('Image(ws, id) after delete'), /ImageNotFound/);
      // Its code asset went with it; the endpoint is gone through ARM too.
      const ep = await httpsJson('GET', `${W}/onlineEndpoints/image-svc?${V}`, s.ca, s.token);
      assert.equal(ep.status, 404);
    });

    it('deploy_from_model and deploy make the image, then the service', async () => {
      const { ok } = steps();
      ok('Webservice.deploy_from_model');
      assert.deepEqual(ok('run (deploy_from_model)'), { result: [30, 60] });
      ok('Webservice.deploy');
      assert.deepEqual(ok('run (deploy)'), { result: [12] });
      assert.deepEqual(ok('images after deploys'), ['factor-image:1', 'model-svc:1', 'paths-svc:1']);
      ok('delete model-svc');
      ok('delete paths-svc');
    });

    it('Model.package makes a Docker build context azureml-core saves, or an image package', async () => {
      const { ok, err } = steps();
      ok('Model.package (dockerfile)');
      ok('package.wait_for_creation');
      ok('package.save');
      const saved = ok('package saved');
      for (const f of [
        'Dockerfile',
        'azureml-app/src/score.py',
        'azureml-app/src/helper.py',
        'azureml-environment-setup/conda_dependencies.yml',
        'azureml-models/factor/1/factor.json',
      ])
        assert.ok(saved.files.includes(f), `${f} is not in ${JSON.stringify(saved.files)}`);
      assert.match(saved.from, /^FROM mcr\.microsoft\.com\/azureml\//);
      // Every COPY names a file or folder of the saved context; conda installs the environment.
      assert.ok(saved.copies.length >= 3, JSON.stringify(saved.copies));
      for (const [src, exists] of saved.copies) assert.equal(exists, true, `COPY ${src} names nothing saved`);
      assert.ok(
        saved.run.some((l: string) =>
          /conda env create .* -f \/azureml-environment-setup\/conda_dependencies\.yml/.test(l),
        ),
        JSON.stringify(saved.run),
      );
      assert.deepEqual(saved.entry, ['/var/azureml-app/src/score.py', true]);
      assert.match(saved.model_dir, /AZUREML_MODEL_DIR="\/var\/azureml-app\/azureml-models\/factor\/1"/);
      assert.deepEqual(saved.conda, [true, true]);
      assert.match(ok('package.get_logs'), /build context ready/);
      // The base image's registry: none here (azureml-core asks the environment's image details).
      assert.match(err('package.get_container_registry'), /501[\s\S]*container registry/);
      ok('Model.package (image)');
      ok('image package wait_for_creation');
      assert.deepEqual(ok('image package'), [false, 'Succeeded', 'factor-package:1', 'Succeeded', true]);
      assert.match(err('image package.save'), /Docker images cannot be saved/);
      ok('image package.delete');
      // Straight to the route: the manifest's URL is signed for its package.
      const bad = await httpsJson('GET', `${MM}/packages/x/context?sig=nope`, s.ca, s.token);
      assert.equal(bad.status, 401, JSON.stringify(bad.body));
      const badType = await httpsJson('POST', `${MM}/packages`, s.ca, s.token, {
        packageType: 'Zip',
        imageRequest: {},
      });
      assert.equal(badType.status, 400, JSON.stringify(badType.body));
    });

    it('container-only settings are a 501 naming the setting, and make nothing', async () => {
      const { ok, err } = steps();
      assert.match(err('Image.create (docker_file)'), /501[\s\S]*docker_file[\s\S]*no container runtime/);
      assert.match(err('Image.create (enable_gpu)'), /501[\s\S]*enable_gpu/);
      assert.match(err('Image.create (spark-py)'), /501[\s\S]*spark-py/);
      assert.deepEqual(ok('nothing made'), []);
      // Straight to the route: a missing driver program or an unknown model is a 400; build records are read-only.
      const missing = await httpsJson('POST', `${MM}/images`, s.ca, s.token, { name: 'raw', modelIds: ['factor:9'] });
      assert.equal(missing.status, 400, JSON.stringify(missing.body));
      assert.match(missing.body.error.message, /factor:9/);
      const noDriver = await httpsJson('POST', `${MM}/images`, s.ca, s.token, { name: 'raw', assets: [] });
      assert.equal(noDriver.status, 400, JSON.stringify(noDriver.body));
      const none = await httpsJson('GET', `${MM}/images?name=raw`, s.ca, s.token);
      assert.deepEqual(none.body.value, []);
    });
  });
}
