import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  IN_CONTAINER_INIT_PATH,
  additionalGroups,
  applyInit,
  checkGroupAdd,
  groupAddNeedsFile,
} from '../../../src/oci/process-options.js';
import { buildRuntimeSpec } from '../../../src/oci/runtime-spec.js';

const ID = `0123456789ab${'c'.repeat(52)}`;
const GROUP = 'root:x:0:\nstaff:x:50:\naudio:x:29:\ndup:x:50:\n';

describe('applyInit', () => {
  it('runs /sbin/docker-init -- <args> with the init bound read-only (moby)', () => {
    const s = buildRuntimeSpec({ id: ID, config: { Cmd: ['sleep', '1'] }, networkMode: 'none' });
    applyInit(s, '/usr/bin/tini-static');
    assert.deepEqual(s.process.args, [IN_CONTAINER_INIT_PATH, '--', 'sleep', '1']);
    assert.deepEqual(s.mounts.at(-1), {
      destination: '/sbin/docker-init',
      type: 'bind',
      source: '/usr/bin/tini-static',
      options: ['bind', 'ro'],
    });
  });
});

describe('GroupAdd', () => {
  it('resolves names against /etc/group and takes numbers as they are, each gid once', () => {
    assert.deepEqual(additionalGroups(['staff', '4242', 'audio', '50'], GROUP), [50, 4242, 29]);
    assert.deepEqual(additionalGroups(['7'], undefined), [7]);
  });

  it("refuses an unknown group name or an out-of-range gid with runc's wording", () => {
    assert.throws(
      () => additionalGroups(['nosuch'], GROUP),
      /HostConfig\.GroupAdd: Unable to find group nosuch: no matching entries in group file/,
    );
    assert.throws(() => additionalGroups(['4294967296'], GROUP), /uids and gids must be in range/);
  });

  it('appends the groups after the user groups in the spec', () => {
    const s = buildRuntimeSpec({
      id: ID,
      config: { Cmd: ['sh'] },
      networkMode: 'none',
      groupAdd: [50, 4242],
    });
    assert.deepEqual(s.process.user.additionalGids, [0, 50, 4242]);
  });

  it('needs /etc/group only for names; refuses non-string lists', () => {
    assert.equal(groupAddNeedsFile(['1', '2']), false);
    assert.equal(groupAddNeedsFile(['1', 'staff']), true);
    assert.deepEqual(checkGroupAdd(null), []);
    assert.throws(() => checkGroupAdd([1]), /HostConfig\.GroupAdd: must be an array of strings/);
  });
});
