/**
 * The container half of `docker create`: the request's Config merged with the image's defaults
 * exactly as moby's `daemon/create.go` (`merge`, `mergeAndVerifyConfig`) does, plus the process
 * environment and argv Docker derives from it at start (`CreateDaemonEnvironment`,
 * `getEntrypointAndArgs`). Pure: the engine stores the merged Config, the spec builder reads it.
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { HealthConfig, ImageRuntimeConfig } from './image-config.js';

/** DEFAULT_PATH_ENV is the PATH Docker gives a Linux container whose image sets none. */
export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** StrSliceInput is how the API accepts Cmd/Entrypoint: an array, a single string, or null. */
export type StrSliceInput = string[] | string | null | undefined;

/** ContainerConfigFields are the Config fields ckptd reads; the API may send more. */
interface ContainerConfigFields {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
  Env?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, Record<string, never>> | null;
  Volumes?: Record<string, Record<string, never>> | null;
  StopSignal?: string;
  Healthcheck?: HealthConfig | null;
  ArgsEscaped?: boolean;
}

/**
 * ContainerRequestConfig is the part of the create request body (`Config`) that shapes the
 * container. `Entrypoint: []` and an absent/null Entrypoint differ, as in Docker: `[]` clears
 * the image entrypoint but keeps the image Cmd; `[""]` (the CLI's `--entrypoint ""`) clears both.
 */
export interface ContainerRequestConfig extends ContainerConfigFields {
  Cmd?: StrSliceInput;
  Entrypoint?: StrSliceInput;
  [extra: string]: unknown;
}

/** MergedContainerConfig is the merged Config (what `docker inspect` shows as Config). */
export interface MergedContainerConfig extends ContainerConfigFields {
  Env: string[];
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  Labels: Record<string, string>;
  User: string;
  WorkingDir: string;
  [extra: string]: unknown;
}

/** toStrSlice normalizes the API's string-or-array form; null/undefined stay null (Go's nil). */
export function toStrSlice(v: StrSliceInput): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new InvalidArgumentError('invalid command: must be a string or an array of strings');
  }
  return [...v];
}

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i === -1 ? e : e.slice(0, i);
}

/**
 * mergeEnv merges image Env into request Env as Docker's `merge` does: the request's entries
 * come first and win per key; image entries whose key the request does not set are appended.
 */
export function mergeEnv(
  requestEnv: readonly string[] | null | undefined,
  imageEnv: readonly string[] | null | undefined,
): string[] {
  const req = [...(requestEnv ?? [])];
  if (req.length === 0) return [...(imageEnv ?? [])];
  const keys = new Set(req.map(envKey));
  for (const e of imageEnv ?? []) {
    if (!keys.has(envKey(e))) req.push(e);
  }
  return req;
}

/**
 * replaceOrAppendEnv applies overrides to defaults as moby's `ReplaceOrAppendEnvValues`: a
 * `K=V` replaces K in place or is appended; a bare `K` (no `=`) unsets K. Unlike moby, a key
 * repeated in overrides is replaced rather than appended twice (the last value wins).
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [...defaults];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(envKey(e ?? ''), i));
  for (const value of overrides) {
    const eq = value.indexOf('=');
    if (eq < 0) {
      const i = index.get(value);
      if (i !== undefined) out[i] = undefined;
      continue;
    }
    const i = index.get(value.slice(0, eq));
    if (i !== undefined && out[i] !== undefined) {
      out[i] = value;
    } else {
      index.set(value.slice(0, eq), out.length);
      out.push(value);
    }
  }
  return out.filter((e): e is string => e !== undefined);
}

function mergeHealthcheck(
  user: HealthConfig | null | undefined,
  image: HealthConfig | undefined,
): HealthConfig | undefined {
  if (image === undefined || image === null) return user ?? undefined;
  if (user === undefined || user === null) return { ...image };
  const out: HealthConfig = { ...user };
  if (out.Test === undefined || out.Test === null || out.Test.length === 0) out.Test = image.Test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    if (!out[k] && image[k] !== undefined) out[k] = image[k];
  }
  return out;
}

/**
 * mergeContainerConfig merges the create request's Config with the image's config as Docker
 * does, then verifies it: Entrypoint `[""]` is reset to none, and an empty result is
 * InvalidArgumentError `no command specified`. WorkingDir must be absolute when set
 * (`the working directory 'x' is invalid, it needs to be an absolute path`).
 */
export function mergeContainerConfig(
  request: ContainerRequestConfig,
  image: ImageRuntimeConfig | undefined,
): MergedContainerConfig {
  const img: ImageRuntimeConfig = image ?? {};
  let cmd = toStrSlice(request.Cmd);
  let entrypoint = toStrSlice(request.Entrypoint);
  let argsEscaped = request.ArgsEscaped;
  if (entrypoint === null || entrypoint.length === 0) {
    if (cmd === null || cmd.length === 0) {
      cmd = img.Cmd ? [...img.Cmd] : null;
      argsEscaped = img.ArgsEscaped;
    }
    // A non-nil empty Entrypoint ([]) keeps the image's entrypoint out; only nil inherits it.
    if (entrypoint === null) entrypoint = img.Entrypoint ? [...img.Entrypoint] : null;
  }
  if (entrypoint !== null && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = null;
  if ((entrypoint === null || entrypoint.length === 0) && (cmd === null || cmd.length === 0)) {
    throw new InvalidArgumentError('no command specified');
  }

  const labels: Record<string, string> = { ...(img.Labels ?? {}), ...(request.Labels ?? {}) };
  const requestPorts = request.ExposedPorts ?? {};
  const exposedPorts =
    Object.keys(requestPorts).length === 0
      ? img.ExposedPorts
      : { ...(img.ExposedPorts ?? {}), ...requestPorts };
  const requestVolumes = request.Volumes ?? {};
  const volumes =
    Object.keys(requestVolumes).length === 0 ? img.Volumes : { ...requestVolumes, ...(img.Volumes ?? {}) };
  const workingDir = request.WorkingDir || img.WorkingDir || '';
  if (workingDir !== '' && !workingDir.startsWith('/')) {
    throw new InvalidArgumentError(
      `the working directory '${workingDir}' is invalid, it needs to be an absolute path`,
    );
  }

  const merged: MergedContainerConfig = {
    ...request,
    User: request.User || img.User || '',
    Env: mergeEnv(request.Env, img.Env),
    Cmd: cmd,
    Entrypoint: entrypoint,
    WorkingDir: workingDir,
    Labels: labels,
  };
  if (exposedPorts !== undefined) merged.ExposedPorts = exposedPorts;
  else delete merged.ExposedPorts;
  if (volumes !== undefined) merged.Volumes = volumes;
  else delete merged.Volumes;
  const stopSignal = request.StopSignal || img.StopSignal;
  if (stopSignal) merged.StopSignal = stopSignal;
  const health = mergeHealthcheck(request.Healthcheck, img.Healthcheck);
  if (health !== undefined) merged.Healthcheck = health;
  else delete merged.Healthcheck;
  if (argsEscaped !== undefined) merged.ArgsEscaped = argsEscaped;
  return merged;
}

/**
 * processArgs returns the argv Docker runs: the entrypoint followed by the command, or the
 * command alone (`getEntrypointAndArgs`). An empty result is `no command specified`.
 */
export function processArgs(entrypoint: readonly string[] | null, cmd: readonly string[] | null): string[] {
  const args =
    entrypoint !== null && entrypoint.length > 0 ? [...entrypoint, ...(cmd ?? [])] : [...(cmd ?? [])];
  if (args.length === 0) throw new InvalidArgumentError('no command specified');
  return args;
}

/**
 * processEnv returns the environment of the container's process, as Docker's
 * `CreateDaemonEnvironment`: PATH (default DEFAULT_PATH_ENV), HOSTNAME, TERM=xterm with a TTY,
 * then the container's Env replacing or appending per key.
 */
export function processEnv(containerEnv: readonly string[], hostname: string, tty: boolean): string[] {
  const defaults = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${hostname}`];
  if (tty) defaults.push('TERM=xterm');
  return replaceOrAppendEnv(defaults, containerEnv);
}
