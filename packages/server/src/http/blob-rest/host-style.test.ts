import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blobHostRewrite } from './routes.js';
import { blobUri } from '../../blob-service/access.js';
import { storageSuffix } from '../../config.js';

describe('host-style blob addressing (ATELIER_STORAGE_SUFFIX)', () => {
  it('rewrites {account}.blob.{suffix} requests to the path-style routes, and nothing else', () => {
    const rewrite = blobHostRewrite('atelier.example.com');
    const at = (host: string, url: string) => rewrite({ url, headers: { host } });
    assert.equal(
      at('acct1.blob.atelier.example.com:8443', '/azureml/a%20b.txt?sv=1'),
      '/blob/acct1/azureml/a%20b.txt?sv=1',
    );
    assert.equal(at('ACCT1.blob.atelier.example.com', '/c?restype=container'), '/blob/acct1/c?restype=container');
    assert.equal(at('atelier.example.com', '/mlflow/x'), '/mlflow/x');
    assert.equal(at('acct1.blob.atelier-example.com', '/c/x'), '/c/x');
    assert.equal(at('a.blob.atelier.example.com', '/c/x'), '/c/x');
    assert.equal(at('acct1.blob.atelierxexample.com', '/c/x'), '/c/x');
  });

  it('hands out host-style URIs with the public port when a suffix is set, path-style otherwise', () => {
    const pub = 'https://127.0.0.1:8443';
    assert.equal(
      blobUri({ publicUrl: pub, storageSuffix: 'atelier.test' }, 'acct1', 'azureml', 'mlflow/1/a b.txt'),
      'https://acct1.blob.atelier.test:8443/azureml/mlflow/1/a%20b.txt',
    );
    assert.equal(blobUri({ publicUrl: pub }, 'acct1', 'azureml', 'x/y'), `${pub}/blob/acct1/azureml/x/y`);
  });

  it('accepts only DNS names as the suffix', () => {
    assert.equal(storageSuffix('Atelier.Example.com.'), 'atelier.example.com');
    assert.equal(storageSuffix(undefined), undefined);
    for (const bad of ['https://a.example', 'a.example:443', 'localhost', 'a..b', 'a/b.c'])
      assert.throws(() => storageSuffix(bad), /ATELIER_STORAGE_SUFFIX/, bad);
  });
});
