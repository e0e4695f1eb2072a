/**
 * The Ray cluster of the tests: a real single-node cluster started by `.ci/ray.sh` (and by `.ci/run`),
 * named by ATELIER_TEST_RAY_DASHBOARD (its Jobs API, http://127.0.0.1:28265) and ATELIER_TEST_RAY_ADDRESS
 * (its GCS, 127.0.0.1:26379). Without it the Ray suites are skipped with a note, or fail under
 * ATELIER_TEST_STRICT=1.
 */
export interface TestRay {
  dashboard: string;
  address: string;
}

export function testRay(what = 'the Ray tests'): TestRay | undefined {
  const dashboard = process.env.ATELIER_TEST_RAY_DASHBOARD;
  const address = process.env.ATELIER_TEST_RAY_ADDRESS;
  if (dashboard && address) return { dashboard, address };
  const why = `ATELIER_TEST_RAY_DASHBOARD/ATELIER_TEST_RAY_ADDRESS are not set: ${what} need a Ray cluster (eval "$(bash .ci/ray.sh)" starts one)`;
  if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
  process.stderr.write(`note: ${why}; skipping them\n`);
  return undefined;
}
