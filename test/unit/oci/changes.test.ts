import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  applyChanges,
  exposedPortKeys,
  parseGoDuration,
  processWord,
  processWords,
  validateSignal,
} from '../../../src/oci/changes.js';
import type { ImageRuntimeConfig } from '../../../src/oci/image-config.js';

const base: ImageRuntimeConfig = { Env: ['PATH=/bin', 'HOME=/root'], Cmd: ['sh'], WorkingDir: '/' };

function apply(...changes: string[]): ImageRuntimeConfig {
  return applyChanges(base, changes);
}

describe('applyChanges: CMD and ENTRYPOINT', () => {
  it('keeps JSON form as is and wraps shell form in /bin/sh -c', () => {
    assert.deepEqual(apply('CMD ["echo", "hi"]').Cmd, ['echo', 'hi']);
    assert.deepEqual(apply('CMD echo "hi there"').Cmd, ['/bin/sh', '-c', 'echo "hi there"']);
    assert.deepEqual(apply('ENTRYPOINT /run.sh --x').Entrypoint, ['/bin/sh', '-c', '/run.sh --x']);
  });

  it('uses the config Shell for shell form', () => {
    assert.deepEqual(applyChanges({ Shell: ['/bin/bash', '-lc'] }, ['CMD ls']).Cmd, [
      '/bin/bash',
      '-lc',
      'ls',
    ]);
  });

  it('treats invalid JSON as shell form and refuses non-string arrays', () => {
    assert.deepEqual(apply('CMD [echo hi]').Cmd, ['/bin/sh', '-c', '[echo hi]']);
    assert.throws(() => apply('CMD ["a", 1]'), {
      message: 'when using JSON array syntax, arrays must be comprised of strings only',
    });
  });

  it('clears Cmd on ENTRYPOINT unless a CMD came before it in the same changes', () => {
    assert.equal(apply('ENTRYPOINT ["/e"]').Cmd, null);
    const c = apply('CMD ["x"]', 'ENTRYPOINT ["/e"]');
    assert.deepEqual(c.Cmd, ['x']);
    assert.deepEqual(c.Entrypoint, ['/e']);
  });

  it('sets an empty entrypoint with ENTRYPOINT []', () => {
    assert.deepEqual(apply('ENTRYPOINT []').Entrypoint, []);
  });

  it('accepts instructions in any case', () => {
    assert.deepEqual(apply('cmd ["x"]').Cmd, ['x']);
  });
});

describe('applyChanges: ENV and LABEL', () => {
  it('sets several name=value pairs, replacing existing keys in place', () => {
    const c = apply('ENV HOME=/home/u A=1');
    assert.deepEqual(c.Env, ['PATH=/bin', 'HOME=/home/u', 'A=1']);
  });

  it('supports the legacy ENV name value form with spaces in the value', () => {
    assert.deepEqual(apply('ENV GREETING hello big world').Env?.at(-1), 'GREETING=hello big world');
  });

  it('removes quotes and expands variables against the env before the instruction', () => {
    const c = apply('ENV PATH=$PATH:/opt/bin NAME="a b" SELF=${PATH}', "ENV Q='$HOME' D=${UNSET:-dflt}");
    assert.deepEqual(c.Env, [
      'PATH=/bin:/opt/bin',
      'HOME=/root',
      'NAME=a b',
      'SELF=/bin',
      'Q=$HOME',
      'D=dflt',
    ]);
  });

  it('sets labels, quoted keys included', () => {
    const c = applyChanges({ Labels: { keep: '1' } }, [
      'LABEL "com.example.k"="v 1" other=2',
      'LABEL legacy some value',
    ]);
    assert.deepEqual(c.Labels, { keep: '1', 'com.example.k': 'v 1', other: '2', legacy: 'some value' });
  });

  it('reports ENV/LABEL syntax errors as BuildKit does', () => {
    assert.throws(() => apply('ENV'), { message: 'ENV requires at least one argument' });
    assert.throws(() => apply('ENV a'), { message: 'ENV must have two arguments' });
    assert.throws(() => apply('LABEL a'), { message: 'LABEL must have two arguments' });
    assert.throws(() => apply('ENV a=b c'), /Syntax error - can't find = in "c"/);
    assert.throws(() => apply('ENV =b'), { message: 'ENV names can not be blank' });
    assert.throws(() => apply('ENV --foo a=b'), { message: 'unknown flag: foo' });
  });
});

describe('applyChanges: other instructions', () => {
  it('EXPOSE adds port/proto keys, ranges and variables included', () => {
    const c = applyChanges({ Env: ['P=8080'], ExposedPorts: { '22/tcp': {} } }, [
      'EXPOSE 80 53/udp 1000-1001 $P',
    ]);
    assert.deepEqual(Object.keys(c.ExposedPorts ?? {}).sort(), [
      '1000/tcp',
      '1001/tcp',
      '22/tcp',
      '53/udp',
      '80/tcp',
      '8080/tcp',
    ]);
  });

  it('EXPOSE rejects bad ports and protocols', () => {
    assert.throws(() => apply('EXPOSE 80/xyz'), { message: 'invalid proto: xyz' });
    assert.throws(() => apply('EXPOSE abc'), { message: 'invalid containerPort: abc' });
    assert.throws(() => apply('EXPOSE 70000'), /invalid containerPort/);
    assert.throws(() => apply('EXPOSE'), { message: 'EXPOSE requires at least one argument' });
  });

  it('USER sets the user, expanding variables', () => {
    assert.equal(applyChanges({ Env: ['U=app'] }, ['USER $U:staff']).User, 'app:staff');
    assert.throws(() => apply('USER'), { message: 'USER requires exactly one argument' });
  });

  it('WORKDIR resolves relative paths against the current one', () => {
    assert.equal(apply('WORKDIR /a', 'WORKDIR b', 'WORKDIR ../c/.').WorkingDir, '/a/c');
    assert.equal(applyChanges({}, ['WORKDIR rel']).WorkingDir, '/rel');
  });

  it('VOLUME accepts JSON and whitespace lists', () => {
    assert.deepEqual(Object.keys(apply('VOLUME ["/a", "/b"]').Volumes ?? {}), ['/a', '/b']);
    assert.deepEqual(Object.keys(apply('VOLUME /c /d').Volumes ?? {}), ['/c', '/d']);
    assert.throws(() => apply('VOLUME [""]'), { message: 'VOLUME specified can not be an empty string' });
  });

  it('STOPSIGNAL accepts names and numbers and rejects unknown signals', () => {
    assert.equal(apply('STOPSIGNAL SIGINT').StopSignal, 'SIGINT');
    assert.equal(apply('STOPSIGNAL 9').StopSignal, '9');
    assert.throws(() => apply('STOPSIGNAL SIGFOO'), { message: 'Invalid signal: SIGFOO' });
  });

  it('HEALTHCHECK parses flags, shell and exec forms, and NONE', () => {
    assert.deepEqual(
      apply('HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=3 CMD curl -f x')
        .Healthcheck,
      {
        Test: ['CMD-SHELL', 'curl -f x'],
        Interval: 30e9,
        Timeout: 5e9,
        StartPeriod: 60e9,
        Retries: 3,
      },
    );
    assert.deepEqual(apply('HEALTHCHECK CMD ["/check", "-q"]').Healthcheck, {
      Test: ['CMD', '/check', '-q'],
    });
    assert.deepEqual(apply('HEALTHCHECK NONE').Healthcheck, { Test: ['NONE'] });
  });

  it('HEALTHCHECK reports its errors as BuildKit does', () => {
    assert.throws(() => apply('HEALTHCHECK'), { message: 'HEALTHCHECK requires at least one argument' });
    assert.throws(() => apply('HEALTHCHECK NONE x'), { message: 'HEALTHCHECK NONE takes no arguments' });
    assert.throws(() => apply('HEALTHCHECK CMD'), { message: 'Missing command after HEALTHCHECK CMD' });
    assert.throws(() => apply('HEALTHCHECK RUN x'), {
      message: 'Unknown type "RUN" in HEALTHCHECK (try CMD)',
    });
    assert.throws(() => apply('HEALTHCHECK --interval=1us CMD x'), {
      message: 'Interval "interval" cannot be less than 1ms',
    });
    assert.throws(() => apply('HEALTHCHECK --retries=-1 CMD x'), {
      message: '--retries cannot be negative (-1)',
    });
    assert.throws(() => apply('HEALTHCHECK --bogus=1 CMD x'), { message: 'unknown flag: bogus' });
  });

  it('ONBUILD stores the trigger text and refuses forbidden triggers', () => {
    assert.deepEqual(apply('ONBUILD RUN echo hi', 'onbuild ADD . /app').OnBuild, [
      'RUN echo hi',
      'ADD . /app',
    ]);
    assert.throws(() => apply('ONBUILD ONBUILD RUN x'), /Chaining ONBUILD/);
    assert.throws(() => apply('ONBUILD FROM x'), { message: "FROM isn't allowed as an ONBUILD trigger" });
  });
});

describe('applyChanges: validation and parsing', () => {
  it('refuses instructions commit does not accept, naming them as written', () => {
    assert.throws(() => apply('RUN echo hi'), {
      name: 'InvalidArgumentError',
      message: 'RUN is not a valid change command',
    });
    assert.throws(() => apply('from busybox'), { message: 'from is not a valid change command' });
    assert.throws(() => apply('BOGUS x'), { message: 'BOGUS is not a valid change command' });
  });

  it('checks every instruction before applying any', () => {
    assert.throws(() => apply('ENV A=1', 'COPY a b'), InvalidArgumentError);
  });

  it('skips blank lines and comments, joins continuation lines and splits multi-line changes', () => {
    const c = apply('', '# comment', 'ENV A=1 \\', '  B=2', 'LABEL x=y\nUSER u');
    assert.deepEqual(c.Env?.slice(2), ['A=1', 'B=2']);
    assert.deepEqual(c.Labels, { x: 'y' });
    assert.equal(c.User, 'u');
  });

  it('never modifies its input', () => {
    const input: ImageRuntimeConfig = { Env: ['A=1'], Labels: { a: '1' } };
    const snapshot = structuredClone(input);
    applyChanges(input, ['ENV A=2', 'LABEL a=2']);
    assert.deepEqual(input, snapshot);
  });

  it('returns a copy for no changes', () => {
    const out = applyChanges(base, []);
    assert.deepEqual(out, base);
    assert.notEqual(out, base);
  });
});

describe('helpers', () => {
  it('processWord removes quotes and expands variables', () => {
    const env = ['A=x', 'E='];
    assert.equal(processWord('"$A"\'$A\'\\$A${A}', env), 'x$A$Ax');
    assert.equal(processWord('${E:-d}${A:+set}${MISSING}', env), 'dset');
    assert.equal(processWord('$', env), '$');
    assert.throws(() => processWord("'open", env), /single-quote/);
  });

  it('processWords splits on unquoted whitespace, also inside expansions', () => {
    assert.deepEqual(processWords('$P "a b" c', ['P=80 443']), ['80', '443', 'a b', 'c']);
  });

  it('parseGoDuration follows Go time.ParseDuration', () => {
    assert.equal(parseGoDuration('1m30s'), 90e9);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('250ms'), 250e6);
    assert.equal(parseGoDuration('0'), 0);
    assert.throws(() => parseGoDuration('10'), /missing unit/);
    assert.throws(() => parseGoDuration('3x'), /unknown unit "x"/);
    assert.throws(() => parseGoDuration(''), /invalid duration/);
  });

  it('validateSignal knows Linux names, SIG prefix optional, RT signals in range', () => {
    for (const ok of ['TERM', 'sigterm', 'SIGRTMIN+3', 'RTMAX-1', '15']) assert.equal(validateSignal(ok), ok);
    for (const bad of ['0', 'SIGNOPE', 'RTMIN+16'])
      assert.throws(() => validateSignal(bad), /Invalid signal/);
  });

  it('exposedPortKeys takes the container part of host mappings', () => {
    assert.deepEqual(exposedPortKeys(['8080:80', '127.0.0.1:53:53/udp']), ['80/tcp', '53/udp']);
  });
});

describe('applyChanges: hostile keys', () => {
  it('stores a __proto__ label as a plain key', () => {
    const c = applyChanges({}, ['LABEL __proto__=x']);
    assert.equal(Object.getPrototypeOf(c.Labels), Object.prototype);
    assert.deepEqual(Object.keys(c.Labels ?? {}), ['__proto__']);
    assert.equal(JSON.stringify(c.Labels), '{"__proto__":"x"}');
  });
});
