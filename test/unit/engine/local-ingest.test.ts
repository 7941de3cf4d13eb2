import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findIngestDir, openLocalIngest } from '../../../src/engine/local-ingest.js';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** ingest lays out one ingest as containerd's local store does (ingest/<sha256(key)>/{ref,data}). */
async function ingest(root: string, key: string, data = '', dirKey = key): Promise<string> {
  const dir = join(root, 'ingest', hex(dirKey));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'ref'), key);
  await writeFile(join(dir, 'data'), data);
  return dir;
}

async function store(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ckptd-ingest-'));
  roots.push(root);
  return root;
}

test('findIngestDir finds the metadata store key <ns>-<seq>-<ref>, first or later sequence', async () => {
  const root = await store();
  const first = await ingest(root, 'ns1-1-pull-sha256:aa');
  assert.equal(await findIngestDir(root, 'ns1', 'pull-sha256:aa'), first);
  const later = await ingest(root, 'ns1-17-pull-sha256:bb');
  assert.equal(await findIngestDir(root, 'ns1', 'pull-sha256:bb'), later);
  // another namespace's ingest of the same ref, a ref that only ends the same way: not ours
  await ingest(root, 'ns2-1-pull-sha256:cc');
  assert.equal(await findIngestDir(root, 'ns1', 'pull-sha256:cc'), undefined);
  await ingest(root, 'ns1-3-x-pull-sha256:dd');
  assert.equal(await findIngestDir(root, 'ns1', 'pull-sha256:dd'), undefined);
  // a ref file in a directory not named after it
  await ingest(root, 'ns1-4-pull-sha256:ee', '', 'something else');
  assert.equal(await findIngestDir(root, 'ns1', 'pull-sha256:ee'), undefined);
  assert.equal(await findIngestDir(join(root, 'nowhere'), 'ns1', 'pull-sha256:aa'), undefined);
});

test('openLocalIngest opens the data file only at the offset containerd reported, never through a symlink', async () => {
  const root = await store();
  await ingest(root, 'ns-1-r1', 'abc');
  assert.equal(await openLocalIngest(root, 'ns', 'r1', 0), undefined);
  const li = await openLocalIngest(root, 'ns', 'r1', 3);
  assert.ok(li);
  assert.equal(li.size, 3);
  await li.fh.close();
  const dir = await ingest(root, 'ns-1-r2');
  await rm(join(dir, 'data'));
  await writeFile(join(root, 'elsewhere'), '');
  await symlink(join(root, 'elsewhere'), join(dir, 'data'));
  assert.equal(await openLocalIngest(root, 'ns', 'r2', 0), undefined);
});
