import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SysInfo } from '../oci/resources.js';
import { readHostSysInfo } from './host-resources.js';

const execFileP = promisify(execFile);

/** HostFacts are figures about the machine that do not change while ckptd runs. */
export interface HostFacts {
  engineId: string;
  hostname: string;
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  architecture: string;
  ncpu: number;
  memTotal: number;
  cgroupVersion: '1' | '2';
  runc: { version: string; commit: string } | undefined;
  criu: { version: string } | undefined;
  /** sysInfo is what the host's cgroups can enforce (moby `pkg/sysinfo`). */
  sysInfo: SysInfo;
}

async function cmdOutput(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await execFileP(cmd, args, {
      timeout: 5000,
      env: { ...process.env, PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    });
    return stdout;
  } catch {
    return undefined;
  }
}

/** parseRuncVersion reads `runc --version` output: `runc version 1.1.5+ds1\ncommit: ...`. */
export function parseRuncVersion(out: string): { version: string; commit: string } | undefined {
  const v = /runc version (\S+)/.exec(out)?.[1];
  if (!v) return undefined;
  return { version: v, commit: /commit: (\S+)/.exec(out)?.[1] ?? '' };
}

/** parseCriuVersion reads `criu --version` output: `Version: 4.1.1`. */
export function parseCriuVersion(out: string): { version: string } | undefined {
  const v = /Version: (\S+)/.exec(out)?.[1];
  return v ? { version: v } : undefined;
}

/** parseOsRelease returns PRETTY_NAME and VERSION_ID from /etc/os-release text. */
export function parseOsRelease(text: string): { pretty: string; version: string } {
  const get = (k: string): string => {
    const m = new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1] ?? '';
    return m.replace(/^"(.*)"$/, '$1');
  };
  return { pretty: get('PRETTY_NAME') || 'Linux', version: get('VERSION_ID') };
}

/** loadEngineId returns the daemon's persistent ID, creating it under dataRoot on first start. */
export async function loadEngineId(dataRoot: string): Promise<string> {
  const file = join(dataRoot, 'engine-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (id) return id;
  } catch {
    // first start
  }
  const id = randomUUID();
  await mkdir(dataRoot, { recursive: true });
  await writeFile(file, `${id}\n`, { mode: 0o600 });
  return id;
}

/** gatherHostFacts reads kernel, OS, CPU, memory, cgroup, runc and CRIU facts once at start-up. */
export async function gatherHostFacts(dataRoot: string): Promise<HostFacts> {
  const [engineId, osRelease, runcOut, criuOut, cg2] = await Promise.all([
    loadEngineId(dataRoot),
    readFile('/etc/os-release', 'utf8').catch(() => ''),
    cmdOutput('runc', ['--version']),
    cmdOutput('criu', ['--version']),
    access('/sys/fs/cgroup/cgroup.controllers').then(
      () => true,
      () => false,
    ),
  ]);
  const osr = parseOsRelease(osRelease);
  return {
    engineId,
    hostname: os.hostname(),
    kernelVersion: os.release(),
    operatingSystem: osr.pretty,
    osVersion: osr.version,
    architecture: os.machine(),
    ncpu: os.availableParallelism(),
    memTotal: os.totalmem(),
    cgroupVersion: cg2 ? '2' : '1',
    runc: runcOut ? parseRuncVersion(runcOut) : undefined,
    criu: criuOut ? parseCriuVersion(criuOut) : undefined,
    sysInfo: readHostSysInfo(),
  };
}
