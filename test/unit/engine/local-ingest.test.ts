import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findIngestDir, openLocalIngest } from '../../../src/engine/local-ingest.js';

let root: string;
const dirOf = (key: string) => join(root, 'ingest', createHash('sha256').update(key).digest('hex'));
async function ingest(key: string, data = '', refContent = key): Promise<string> {
  const dir = dirOf(key);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'ref'), refContent);
  await writeFile(join(dir, 'data'), data);
  return dir;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ckptd-ingest-'));
});
after(() => rm(root, { recursive: true, force: true }));

test("finds an ingest under containerd 1.6's metadata key <ns>/<seq>/<ref>", async () => {
  const first = await ingest('ns1/1/commit-a');
  assert.equal(await findIngestDir(root, 'ns1', 'commit-a'), first);
  const later = await ingest('ns1/17/commit-b');
  assert.equal(await findIngestDir(root, 'ns1', 'commit-b'), later, 'found by a scan');
  await ingest('ns2/1/commit-c');
  assert.equal(await findIngestDir(root, 'ns1', 'commit-c'), undefined, 'another namespace');
  await ingest('ns1/4/commit-d', '', 'something else');
  assert.equal(await findIngestDir(root, 'ns1', 'commit-d'), undefined, 'the ref file must name it');
});

test('openLocalIngest opens the data file only at the offset containerd reported, never a symlink', async () => {
  await ingest('ns/1/r1', 'abc');
  const ok = await openLocalIngest(root, 'ns', 'r1', 3);
  assert.ok(ok);
  await ok.fh.close();
  assert.equal(await openLocalIngest(root, 'ns', 'r1', 0), undefined, 'size differs');
  const dir = await ingest('ns/1/r2');
  await rm(join(dir, 'data'));
  await symlink('/etc/passwd', join(dir, 'data'));
  assert.equal(await openLocalIngest(root, 'ns', 'r2', 0), undefined);
});
