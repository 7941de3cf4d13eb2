import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseFlags } from '../../../src/config/flags.js';
import { parseHost } from '../../../src/config/config.js';
import { InvalidArgumentError } from '../../../src/errors/index.js';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ckptd-flags-'));
  tempDirs.push(d);
  return d;
}
after(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

test('parseFlags applies dockerd-like defaults', async () => {
  const r = await parseFlags([]);
  assert.equal(r.action, 'run');
  if (r.action !== 'run') return;
  assert.deepEqual(r.config.hosts, ['unix:///run/ckptd.sock']);
  assert.equal(r.config.containerd, undefined);
  assert.equal(r.config.containerdNamespace, 'default');
  assert.equal(r.config.dataRoot, '/var/lib/ckptd');
  assert.equal(r.config.logLevel, 'info');
});

test('parseFlags accepts repeated -H/--host and the other flags', async () => {
  const r = await parseFlags([
    '-H',
    'unix:///tmp/a.sock',
    '--host',
    'tcp://127.0.0.1:2375',
    '--containerd',
    '/x.sock',
    '--containerd-namespace',
    'ns1',
    '--data-root',
    '/d',
    '--log-level',
    'debug',
    '--group',
    'staff',
  ]);
  assert.equal(r.action, 'run');
  if (r.action !== 'run') return;
  assert.deepEqual(r.config.hosts, ['unix:///tmp/a.sock', 'tcp://127.0.0.1:2375']);
  assert.equal(r.config.containerd, '/x.sock');
  assert.equal(r.config.containerdNamespace, 'ns1');
  assert.equal(r.config.dataRoot, '/d');
  assert.equal(r.config.logLevel, 'debug');
  assert.equal(r.config.group, 'staff');
});

test('parseFlags merges a --config JSON file under the flags', async () => {
  const dir = await tempDir();
  const file = join(dir, 'c.json');
  await writeFile(
    file,
    JSON.stringify({ 'data-root': '/from-file', 'log-level': 'warn', hosts: ['unix:///f.sock'] }),
  );
  const r = await parseFlags(['--config', file, '--log-level', 'error']);
  assert.equal(r.action, 'run');
  if (r.action !== 'run') return;
  assert.equal(r.config.dataRoot, '/from-file');
  assert.equal(r.config.logLevel, 'error');
  assert.deepEqual(r.config.hosts, ['unix:///f.sock']);
});

test('parseFlags rejects unknown flags, bad hosts, bad levels and unknown config keys', async () => {
  await assert.rejects(parseFlags(['--nope']), InvalidArgumentError);
  await assert.rejects(parseFlags(['-H', 'ssh://host']), /only unix:\/\/, tcp:\/\/ and fd:\/\//);
  await assert.rejects(parseFlags(['-H', 'fd://2']), /passes fds from 3 on/);
  await assert.rejects(parseFlags(['-H', 'fd://a:b']), /expected fd:\/\/, fd:\/\/N or fd:\/\/NAME/);
  await assert.rejects(parseFlags(['-H', 'unix://relative.sock']), /must be absolute/);
  await assert.rejects(parseFlags(['--log-level', 'loud']), /invalid log level/);
  const dir = await tempDir();
  await writeFile(join(dir, 'bad.json'), '{"colour": "blue"}');
  await assert.rejects(parseFlags(['--config', join(dir, 'bad.json')]), /unknown key "colour"/);
  await writeFile(join(dir, 'broken.json'), '{');
  await assert.rejects(parseFlags(['--config', join(dir, 'broken.json')]), /not valid JSON/);
});

test('--read-timeout and --max-connections (and their config keys) set the HTTP limits', async () => {
  let r = await parseFlags([]);
  assert.ok(r.action === 'run');
  assert.equal(r.config.readTimeout, 30);
  assert.equal(r.config.maxConnections, 1024);
  r = await parseFlags(['--read-timeout', '2.5', '--max-connections', '10']);
  assert.ok(r.action === 'run');
  assert.equal(r.config.readTimeout, 2.5);
  assert.equal(r.config.maxConnections, 10);
  const dir = await tempDir();
  await writeFile(join(dir, 'l.json'), JSON.stringify({ 'read-timeout': 7, 'max-connections': 99 }));
  r = await parseFlags(['--config', join(dir, 'l.json')]);
  assert.ok(r.action === 'run');
  assert.equal(r.config.readTimeout, 7);
  assert.equal(r.config.maxConnections, 99);
  await assert.rejects(parseFlags(['--read-timeout', '0']), /read-timeout must be a number of seconds > 0/);
  await assert.rejects(parseFlags(['--read-timeout', 'x']), /--read-timeout must be a number/);
  await assert.rejects(parseFlags(['--max-connections', '0']), /max-connections must be an integer >= 1/);
  await assert.rejects(parseFlags(['--max-connections', '1.5']), /--max-connections must be an integer/);
});

test('parseHost parses unix and tcp addresses', () => {
  assert.deepEqual(parseHost('unix:///run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
  assert.deepEqual(parseHost('tcp://0.0.0.0:2375'), { kind: 'tcp', host: '0.0.0.0', port: 2375 });
  assert.deepEqual(parseHost('tcp://[::1]:2375'), { kind: 'tcp', host: '::1', port: 2375 });
  assert.throws(() => parseHost('tcp://host'), /expected tcp:\/\/addr:port/);
});

test('parseHost parses fd:// (every passed socket), fd://N and fd://NAME as dockerd, plus names', () => {
  assert.deepEqual(parseHost('fd://'), { kind: 'fd', select: '' });
  assert.deepEqual(parseHost('fd://*'), { kind: 'fd', select: '' });
  assert.deepEqual(parseHost('fd://3'), { kind: 'fd', select: '3' });
  assert.deepEqual(parseHost('fd://004'), { kind: 'fd', select: '4' });
  assert.deepEqual(parseHost('fd://ckptd.socket'), { kind: 'fd', select: 'ckptd.socket' });
  assert.throws(() => parseHost('fd://0'), /passes fds from 3 on/);
  assert.throws(() => parseHost('fd://with space'), /expected fd:\/\/, fd:\/\/N or fd:\/\/NAME/);
});

test('parseFlags answers --help and --version', async () => {
  assert.equal((await parseFlags(['--help'])).action, 'help');
  assert.equal((await parseFlags(['-v'])).action, 'version');
});

test('--checkpoint-dirs is repeatable, has a config key, and must be absolute', async () => {
  const d = await parseFlags([]);
  assert.ok(d.action === 'run' && d.config.checkpointDirs.length === 0);
  const r = await parseFlags(['--checkpoint-dirs', '/srv/ck', '--checkpoint-dirs', '/mnt/ck']);
  assert.ok(r.action === 'run');
  assert.deepEqual(r.config.checkpointDirs, ['/srv/ck', '/mnt/ck']);
  const dir = await tempDir();
  await writeFile(join(dir, 'c.json'), JSON.stringify({ 'checkpoint-dirs': ['/from-file'] }));
  const f = await parseFlags(['--config', join(dir, 'c.json')]);
  assert.ok(f.action === 'run');
  assert.deepEqual(f.config.checkpointDirs, ['/from-file']);
  await assert.rejects(
    parseFlags(['--checkpoint-dirs', 'rel']),
    /checkpoint-dirs must be a list of absolute paths/,
  );
  await writeFile(join(dir, 'bad.json'), JSON.stringify({ 'checkpoint-dirs': '/x' }));
  await assert.rejects(parseFlags(['--config', join(dir, 'bad.json')]), /checkpoint-dirs must be a list/);
});
