import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  commandString,
  extraHosts,
  humanDuration,
  lookupContainer,
  parseNetworkMode,
  parsePsOutput,
  parseKillSignal,
  parseSignal,
  parseWaitCondition,
  removeRunningMessage,
  selectContainers,
  statusString,
  ZERO_TIME,
  type ListEntry,
} from '../../../src/engine/containers/shape.js';
import { InvalidArgumentError, NotFoundError } from '../../../src/errors/index.js';
import { parseFilters } from '../../../src/oci/filters.js';

const NOW = Date.parse('2024-01-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe('status strings', () => {
  test('humanDuration follows go-units', () => {
    assert.equal(humanDuration(500), 'Less than a second');
    assert.equal(humanDuration(1000), '1 second');
    assert.equal(humanDuration(3000), '3 seconds');
    assert.equal(humanDuration(61_000), 'About a minute');
    assert.equal(humanDuration(5 * 60_000), '5 minutes');
    assert.equal(humanDuration(3_600_000), 'About an hour');
    assert.equal(humanDuration(5 * 3_600_000), '5 hours');
    assert.equal(humanDuration(3 * 86_400_000), '3 days');
  });

  test('running, paused, exited and created read as docker ps prints them', () => {
    const base = { exitCode: 0, startedAt: ago(3000), finishedAt: ZERO_TIME };
    assert.equal(statusString({ ...base, status: 'running' }, NOW), 'Up 3 seconds');
    assert.equal(statusString({ ...base, status: 'paused' }, NOW), 'Up 3 seconds (Paused)');
    assert.equal(statusString({ ...base, status: 'created' }, NOW), 'Created');
    assert.equal(
      statusString({ status: 'exited', exitCode: 3, startedAt: ago(9000), finishedAt: ago(2000) }, NOW),
      'Exited (3) 2 seconds ago',
    );
  });

  test('commandString quotes args with spaces', () => {
    assert.equal(commandString('sh', ['-c', 'exit 3']), "sh -c 'exit 3'");
    assert.equal(commandString('sleep', []), 'sleep');
  });
});

describe('lookupContainer', () => {
  const entries = [
    { id: 'abc123' + '0'.repeat(58), name: 'web' },
    { id: 'abd456' + '0'.repeat(58), name: 'db' },
  ];
  test('finds by full ID, name, /name and unique prefix', () => {
    assert.equal(lookupContainer(entries, entries[0]!.id).name, 'web');
    assert.equal(lookupContainer(entries, 'db').name, 'db');
    assert.equal(lookupContainer(entries, '/db').name, 'db');
    assert.equal(lookupContainer(entries, 'abc').name, 'web');
  });
  test('an ambiguous prefix is a 400, a missing one No such container', () => {
    assert.throws(() => lookupContainer(entries, 'ab'), /Multiple IDs found with provided prefix: ab/);
    assert.throws(
      () => lookupContainer(entries, 'zz'),
      (e: unknown) => e instanceof NotFoundError && e.message === 'No such container: zz',
    );
  });
  test('an empty reference is a 400 as dockerd words it (POST /commit without container)', () => {
    assert.throws(
      () => lookupContainer(entries, ''),
      (e: unknown) => e instanceof InvalidArgumentError && e.message === 'invalid name or ID supplied: ""',
    );
  });
  test('a name wins over an ID prefix', () => {
    const e = [...entries, { id: 'f'.repeat(64), name: 'abc' }];
    assert.equal(lookupContainer(e, 'abc').id, 'f'.repeat(64));
  });
});

describe('selectContainers', () => {
  const mk = (
    name: string,
    status: ListEntry['status'],
    created: number,
    extra: Partial<ListEntry> = {},
  ): ListEntry => ({
    id: `${name}`.padEnd(64, '0'),
    name,
    status,
    exitCode: 0,
    labels: {},
    image: 'docker.io/library/busybox:latest',
    imageId: 'sha256:' + 'e'.repeat(64),
    created,
    ...extra,
  });
  const entries = [
    mk('a1', 'running', 1, { labels: { tier: 'web' } }),
    mk('b2', 'exited', 2, { exitCode: 3 }),
    mk('c3', 'created', 3),
    mk('d4', 'paused', 4),
  ];
  const names = (es: ListEntry[]) => es.map((e) => e.name);

  test('without all, running, paused and restarting containers are listed (dockerd: State.Running)', () => {
    const withRestarting = [...entries, mk('e5', 'restarting', 5, { exitCode: 1 })];
    assert.deepEqual(names(selectContainers(withRestarting, {})), ['e5', 'd4', 'a1']);
  });

  test('before and since select by creation relative to a named container (404 when unknown)', () => {
    const f = (o: object) => parseFilters(JSON.stringify(o));
    assert.deepEqual(names(selectContainers(entries, { all: true, filters: f({ before: { c3: true } }) })), [
      'b2',
      'a1',
    ]);
    assert.deepEqual(names(selectContainers(entries, { all: true, filters: f({ since: { b2: true } }) })), [
      'd4',
      'c3',
    ]);
    assert.deepEqual(names(selectContainers(entries, { filters: f({ since: { a1: true } }) })), ['d4']);
    assert.throws(() => selectContainers(entries, { filters: f({ before: { nope: true } }) }), NotFoundError);
  });

  test('without all only running and paused, newest first', () => {
    assert.deepEqual(names(selectContainers(entries, {})), ['d4', 'a1']);
    assert.deepEqual(names(selectContainers(entries, { all: true })), ['d4', 'c3', 'b2', 'a1']);
  });
  test('limit implies all', () => {
    assert.deepEqual(names(selectContainers(entries, { limit: 2 })), ['d4', 'c3']);
  });
  test('status, exited, label, name, id and ancestor filters', () => {
    const f = (raw: object) => selectContainers(entries, { filters: parseFilters(JSON.stringify(raw)) });
    assert.deepEqual(names(f({ status: ['exited'] })), ['b2']);
    assert.deepEqual(names(f({ exited: { '3': true } })), ['b2']);
    assert.deepEqual(names(f({ label: ['tier=web'] })), ['a1']);
    assert.deepEqual(names(f({ name: ['^/d'] })), ['d4']);
    assert.deepEqual(names(f({ id: ['a1'] })), ['a1']);
    assert.deepEqual(names(f({ ancestor: ['busybox'] })), ['d4', 'a1']);
    assert.deepEqual(names(f({ ancestor: ['eeee'] })), ['d4', 'a1']);
    assert.deepEqual(names(f({ ancestor: ['alpine'] })), []);
  });
  test('bad filters are 400s', () => {
    assert.throws(
      () => selectContainers(entries, { filters: parseFilters('{"status":["zombie"]}') }),
      /invalid filter 'status=\[zombie\]'/,
    );
    assert.throws(
      () => selectContainers(entries, { filters: parseFilters('{"bogus":["x"]}') }),
      /invalid filter 'bogus'/,
    );
  });
});

describe('parameters', () => {
  test('parseSignal accepts names, short names and numbers', () => {
    assert.equal(parseSignal('SIGTERM'), 15);
    assert.equal(parseSignal('kill'), 9);
    assert.equal(parseSignal('10'), 10);
    assert.throws(() => parseSignal('SIGNOPE'), /Invalid signal: SIGNOPE/);
  });
  test('parseKillSignal words a bad signal as dockerd 20.10 kill does', () => {
    assert.equal(parseKillSignal('web', 'HUP'), 1);
    assert.equal(parseKillSignal('web', '64'), 64);
    assert.throws(() => parseKillSignal('web', 'FOO'), /^InvalidArgumentError: Invalid signal: FOO$/);
    assert.throws(
      () => parseKillSignal('web', '99'),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.message === 'Cannot kill container: web: The linux daemon does not support signal 99',
    );
  });
  test('removeRunningMessage is dockerd 20.10 wording, running, paused and restarting', () => {
    assert.equal(
      removeRunningMessage('abc', 'running'),
      'You cannot remove a running container abc. Stop the container before attempting removal or force remove',
    );
    assert.equal(
      removeRunningMessage('abc', 'paused'),
      'You cannot remove a paused container abc. Unpause and then stop the container before attempting removal or force remove',
    );
    assert.equal(
      removeRunningMessage('abc', 'restarting'),
      'You cannot remove a restarting container abc. Stop the container before attempting removal or force remove',
    );
  });
  test('parseWaitCondition defaults to not-running', () => {
    assert.equal(parseWaitCondition(undefined), 'not-running');
    assert.equal(parseWaitCondition('removed'), 'removed');
    assert.throws(() => parseWaitCondition('later'), /invalid condition: "later"/);
  });
  test('network mode: default and empty mean none, bridge is refused with what is supported', () => {
    assert.equal(parseNetworkMode(undefined), 'none');
    assert.equal(parseNetworkMode('default'), 'none');
    assert.equal(parseNetworkMode('host'), 'host');
    assert.throws(() => parseNetworkMode('bridge'), /supports only NetworkMode "none" and "host"/);
  });
});

test('parsePsOutput keeps the container PIDs and joins the command column', () => {
  const out =
    'UID          PID    PPID  C STIME TTY          TIME CMD\n' +
    'root           1       0  0 18:00 ?        00:00:01 /sbin/init splash\n' +
    'root        4242    4200  0 18:01 ?        00:00:00 sleep 1000\n' +
    'root        4243    4242  0 18:01 ?        00:00:00 sh -c echo a  b\n';
  assert.deepEqual(parsePsOutput(out, new Set([4242, 4243])), {
    Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
    Processes: [
      ['root', '4242', '4200', '0', '18:01', '?', '00:00:00', 'sleep 1000'],
      ['root', '4243', '4242', '0', '18:01', '?', '00:00:00', 'sh -c echo a b'],
    ],
  });
  assert.throws(() => parsePsOutput('USER COMMAND\n', new Set()), /PID field/);
});

test('extraHosts reads host:ip and host=ip, refuses bad addresses and host-gateway', () => {
  assert.deepEqual(extraHosts(['foo:1.2.3.4', 'bar=::1', 'baz:[fe80::1]']), [
    ['foo', '1.2.3.4'],
    ['bar', '::1'],
    ['baz', 'fe80::1'],
  ]);
  assert.deepEqual(extraHosts(null), []);
  assert.throws(() => extraHosts(['foo:nope']), /invalid IP address/);
  assert.throws(() => extraHosts(['foo:host-gateway']), /host-gateway/);
  assert.throws(() => extraHosts(['1.2.3.4']), /invalid IP address|expected host:ip/);
});
