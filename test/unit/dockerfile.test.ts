// The Dockerfile, checked without a registry or a daemon (neither is reachable here, and hadolint
// is not installable): a small parser (instructions, `\` continuations, comments, JSON forms)
// and hadolint's rules that apply to this file, plus ckptd's own: the base image is the Node.js
// setup-node.sh pins, the build context holds no tests, the runtime setup installs no test peer.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../..');

/** Instruction is one Dockerfile instruction with its continuation lines joined. */
interface Instruction {
  line: number;
  keyword: string;
  /** args is the text after the keyword (flags included). */
  args: string;
  /** json is the exec form's array when args is one. */
  json?: string[];
}

/**
 * parseDockerfile splits a Dockerfile into instructions as BuildKit does: `#` lines are comments
 * (also between continuation lines), a trailing `\` continues the instruction, empty lines
 * inside a continuation are skipped. Parser directives and heredocs are not used here.
 */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current: { line: number; text: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) return;
    if (trimmed === '') {
      if (current) return; // a blank line inside a continuation
      return;
    }
    const continues = /\\\s*$/.test(raw);
    const piece = continues ? raw.replace(/\\\s*$/, '') : raw;
    if (current) current.text += ` ${piece.trim()}`;
    else current = { line: i + 1, text: piece.trim() };
    if (!continues) {
      const m = /^(\S+)\s*(.*)$/s.exec(current.text);
      assert.ok(m, `line ${current.line}: cannot parse`);
      const keyword = (m[1] as string).toUpperCase();
      const args = (m[2] as string).trim();
      const ins: Instruction = { line: current.line, keyword, args };
      if (args.startsWith('[')) {
        try {
          const v = JSON.parse(args) as unknown;
          if (Array.isArray(v) && v.every((x) => typeof x === 'string')) ins.json = v;
        } catch {
          // shell form that starts with '['
        }
      }
      out.push(ins);
      current = undefined;
    }
  });
  assert.equal(current, undefined, 'the file ends inside a continuation');
  return out;
}

/** flagsOf splits `--from=build --chown=x a b` into flags and words. */
function flagsOf(args: string): { flags: Record<string, string>; words: string[] } {
  const flags: Record<string, string> = {};
  const words: string[] = [];
  for (const w of args.split(/\s+/).filter(Boolean)) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(w);
    if (m && words.length === 0) flags[m[1] as string] = m[2] ?? '';
    else words.push(w);
  }
  return { flags, words };
}

/** stages groups instructions by FROM. */
function stages(ins: Instruction[]): { from: Instruction; alias?: string; body: Instruction[] }[] {
  const out: { from: Instruction; alias?: string; body: Instruction[] }[] = [];
  for (const i of ins) {
    if (i.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      assert.ok(m, `line ${i.line}: FROM image [AS name]`);
      out.push({ from: i, alias: m[2]?.toLowerCase(), body: [] });
    } else if (i.keyword !== 'ARG' || out.length > 0) {
      assert.ok(out.length > 0, `line ${i.line}: ${i.keyword} before FROM`);
      out.at(-1)?.body.push(i);
    }
  }
  return out;
}

const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(text);
const allStages = stages(instructions);
const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

describe('the Dockerfile parser', () => {
  test('joins continuations, skips comments inside them, reads the exec form', () => {
    const p = parseDockerfile(
      'FROM a:1 AS b\n# c\nRUN x \\\n  # inside\n  && y\nENTRYPOINT ["/t", "--"]\nCMD echo [x\n',
    );
    assert.deepEqual(
      p.map((i) => [i.line, i.keyword, i.args, i.json]),
      [
        [1, 'FROM', 'a:1 AS b', undefined],
        [3, 'RUN', 'x && y', undefined],
        [6, 'ENTRYPOINT', '["/t", "--"]', ['/t', '--']],
        [7, 'CMD', 'echo [x', undefined],
      ],
    );
    assert.throws(() => parseDockerfile('RUN a \\\n'), /ends inside a continuation/);
  });
});

describe('hadolint rules that apply', () => {
  test('DL3006/DL3007: every base image has an explicit tag, never latest', () => {
    const aliases = new Set<string>();
    for (const s of allStages) {
      const image = (/^(?:--platform=\S+\s+)?(\S+)/.exec(s.from.args)?.[1] ?? '').toLowerCase();
      if (!aliases.has(image) && image !== 'scratch') {
        const m = /^([^@]+?)(?::([^:/@]+))?(@sha256:[0-9a-f]{64})?$/.exec(image);
        assert.ok(m?.[2] || m?.[3], `line ${s.from.line}: ${image} has no tag`);
        assert.notEqual(m?.[2], 'latest', `line ${s.from.line}: ${image} uses latest`);
      }
      if (s.alias) aliases.add(s.alias);
    }
  });

  test('DL3024/DL3022/DL3023: stage names are unique, COPY --from names an earlier stage', () => {
    const seen: string[] = [];
    for (const s of allStages) {
      if (s.alias) {
        assert.ok(!seen.includes(s.alias), `duplicate stage name ${s.alias}`);
      }
      for (const i of s.body.filter((b) => b.keyword === 'COPY')) {
        const from = flagsOf(i.args).flags.from;
        if (from === undefined) continue;
        assert.notEqual(from, s.alias, `line ${i.line}: COPY --from its own stage`);
        assert.ok(seen.includes(from.toLowerCase()), `line ${i.line}: --from=${from} is no earlier stage`);
      }
      if (s.alias) seen.push(s.alias);
    }
  });

  test('DL3000/DL3045: WORKDIR is absolute and set before a COPY to a relative path', () => {
    for (const s of allStages) {
      let workdir = false;
      for (const i of s.body) {
        if (i.keyword === 'WORKDIR') {
          assert.ok(i.args.startsWith('/'), `line ${i.line}: WORKDIR ${i.args} is not absolute`);
          workdir = true;
        }
        if (i.keyword === 'COPY') {
          const { words } = flagsOf(i.args);
          const dest = words.at(-1) as string;
          if (!dest.startsWith('/')) assert.ok(workdir, `line ${i.line}: COPY to ${dest} without WORKDIR`);
          // DL3021: several sources need a directory destination
          if (words.length > 2) assert.ok(dest.endsWith('/'), `line ${i.line}: ${dest} must end with /`);
        }
      }
    }
  });

  test('DL3020: no ADD (COPY for local files); DL4000: no MAINTAINER', () => {
    for (const i of instructions) {
      assert.notEqual(i.keyword, 'ADD', `line ${i.line}: ADD`);
      assert.notEqual(i.keyword, 'MAINTAINER', `line ${i.line}: MAINTAINER`);
    }
  });

  test('DL3025/DL4003/DL4004: one ENTRYPOINT and CMD, exec form; tini is PID 1', () => {
    const final = allStages.at(-1);
    assert.ok(final);
    for (const s of allStages) {
      for (const kw of ['ENTRYPOINT', 'CMD']) {
        const list = s.body.filter((i) => i.keyword === kw);
        assert.ok(list.length <= 1, `more than one ${kw} in the stage at line ${s.from.line}`);
        for (const i of list) assert.ok(i.json, `line ${i.line}: ${kw} must use the JSON (exec) form`);
      }
    }
    const entrypoint = final.body.find((i) => i.keyword === 'ENTRYPOINT')?.json;
    assert.deepEqual(entrypoint?.slice(0, 2), ['/usr/bin/tini', '--'], 'tini, then --');
    assert.deepEqual(entrypoint?.slice(2), ['/usr/local/bin/node', '/opt/ckptd/dist/src/main.js']);
    // tini is Debian's, installed by the runtime setup the final stage runs
    assert.match(
      readFileSync(join(ROOT, 'scripts/setup-runtime.sh'), 'utf8'),
      /^RUNTIME_PKGS=\(.*\btini\b.*\)$/m,
    );
  });

  test('DL3008-ish apt hygiene: -y, --no-install-recommends, lists removed in the same RUN; no apt, sudo, cd', () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN');
    assert.ok(runs.length > 0);
    for (const i of runs) {
      const cmd = i.json ? i.json.join(' ') : i.args;
      for (const m of cmd.matchAll(/apt-get\s+(?:-\S+\s+)*install\b([^;&|]*)/g)) {
        assert.match(
          m[1] as string,
          /(^|\s)(-y|--yes|-qq?y)\b/,
          `line ${i.line}: apt-get install without -y (DL3014)`,
        );
        assert.match(m[1] as string, /--no-install-recommends/, `line ${i.line}: DL3015`);
      }
      // the runtime setup runs apt-get update/install/download: its lists go in the same layer
      if (/apt-get\s+(update|install)|setup-runtime\.sh/.test(cmd))
        assert.match(cmd, /rm -rf \/var\/lib\/apt\/lists\/\*\s*$/, `line ${i.line}: DL3009`);
      assert.doesNotMatch(cmd, /(^|[\s;&|])apt\s/, `line ${i.line}: apt instead of apt-get (DL3027)`);
      assert.doesNotMatch(cmd, /(^|[\s;&|])sudo\s/, `line ${i.line}: sudo (DL3004)`);
      assert.doesNotMatch(cmd, /(^|[\s;&|])cd\s/, `line ${i.line}: cd instead of WORKDIR (DL3003)`);
      // DL4006: a pipe needs SHELL ["/bin/bash", "-o", "pipefail", "-c"]
      if (/[^|]\|[^|]/.test(cmd))
        assert.ok(
          instructions.some((s) => s.keyword === 'SHELL' && s.json?.includes('pipefail')),
          `line ${i.line}: DL4006`,
        );
    }
  });

  test('the runtime setup script the image runs installs with --no-install-recommends', () => {
    const script = readFileSync(join(ROOT, 'scripts/setup-runtime.sh'), 'utf8');
    const installs = [...script.matchAll(/apt-get[^\n]*\sinstall\s[^\n]*/g)].map((m) => m[0]);
    assert.ok(installs.length > 0);
    for (const l of installs) {
      assert.match(l, /\s-y\s/);
      assert.match(l, /--no-install-recommends/);
    }
  });
});

describe('ckptd’s own rules for the image', () => {
  test('both stages use the Node.js that setup-node.sh pins, on Debian 12 (bookworm)', () => {
    const pinned = /^NODE_VERSION=(\S+)$/m.exec(
      readFileSync(join(ROOT, 'scripts/setup-node.sh'), 'utf8'),
    )?.[1];
    assert.ok(pinned);
    const bases = allStages.map((s) => /^(\S+)/.exec(s.from.args)?.[1]);
    assert.deepEqual(bases, [`node:${pinned}-bookworm-slim`, `node:${pinned}-bookworm-slim`]);
  });

  test('every COPY source exists in the repository and is not excluded by .dockerignore', () => {
    const ignored = (p: string): boolean =>
      dockerignore.some(
        (pat) => p === pat || p.startsWith(`${pat}/`) || (pat.startsWith('*') && p.endsWith(pat.slice(1))),
      );
    let n = 0;
    for (const i of instructions.filter((x) => x.keyword === 'COPY')) {
      const { flags, words } = flagsOf(i.args);
      if (flags.from !== undefined) continue;
      for (const src of words.slice(0, -1)) {
        assert.ok(existsSync(join(ROOT, src)), `line ${i.line}: ${src} does not exist`);
        assert.ok(
          !ignored(src.replace(/^\.\//, '').replace(/\/$/, '')),
          `line ${i.line}: ${src} is in .dockerignore`,
        );
        n++;
      }
    }
    assert.ok(n >= 5);
  });

  test('no test, bench or dev input reaches the build context or the image', () => {
    for (const dir of ['test', 'bench', 'node_modules', 'dist', '.git'])
      assert.ok(dockerignore.includes(dir), dir);
    for (const i of instructions.filter((x) => x.keyword === 'COPY' && !('from' in flagsOf(x.args).flags))) {
      for (const src of flagsOf(i.args).words.slice(0, -1)) {
        assert.doesNotMatch(src, /^(\.\/)?(test|bench)(\/|$)/, `line ${i.line}: ${src}`);
        assert.notEqual(src, 'scripts', `line ${i.line}: copy the scripts the build needs, not scripts/`);
      }
    }
    assert.match(
      text,
      /^RUN npm run build && npm prune --omit=dev$/m,
      'the build stage drops dev dependencies',
    );
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.match(pkg.scripts.build ?? '', /tsc -p tsconfig\.build\.json/);
  });

  test('the runtime setup installs no test peer; setup-host.sh adds them on top of it', () => {
    const runtime = readFileSync(join(ROOT, 'scripts/setup-runtime.sh'), 'utf8');
    const host = readFileSync(join(ROOT, 'scripts/setup-host.sh'), 'utf8');
    const pkgs = /^RUNTIME_PKGS=\((.*)\)$/m.exec(runtime)?.[1]?.split(/\s+/) ?? [];
    for (const p of ['containerd', 'runc', 'tini']) assert.ok(pkgs.includes(p), p);
    for (const p of [
      'docker.io',
      'podman',
      'docker-registry',
      'apache2-utils',
      'python3-docker',
      'busybox-static',
      'golang-github-containerd-containerd-dev',
      'systemd',
    ]) {
      assert.ok(!pkgs.includes(p), `${p} is a test peer`);
      assert.ok(
        !new RegExp(`\\b${p.replace('.', '\\.')}\\b(?!-)`).test(runtime.replace(/^#.*$/gm, '')),
        `${p} in setup-runtime.sh`,
      );
      assert.ok(host.includes(p), `${p} in setup-host.sh`);
    }
    assert.match(host, /^bash "\$\(dirname "\$0"\)\/setup-runtime\.sh"$/m);
  });

  test('tsconfig.build.json compiles src/ alone', async () => {
    const cfg = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    assert.deepEqual(cfg.include, ['src/**/*.ts']);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(ROOT, 'tsconfig.build.json'),
        '--listFilesOnly',
      ],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
    );
    const ours = stdout
      .split('\n')
      .filter((f) => f.startsWith(`${ROOT}/`) && !f.includes('/node_modules/'))
      .map((f) => f.slice(ROOT.length + 1));
    assert.ok(ours.includes('src/main.ts'));
    assert.deepEqual(
      ours.filter((f) => !f.startsWith('src/')),
      [],
    );
  });
});
