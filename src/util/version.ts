import { readFileSync } from 'node:fs';

/** CKPTD_VERSION is ckptd's own version, read from package.json once. */
export const CKPTD_VERSION: string = (() => {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'ckptd' && pkg.version) return pkg.version;
    } catch {
      // try the next location (src/ under tsx, dist/src/ when built)
    }
  }
  return '0.0.0-dev';
})();

/** GIT_COMMIT is the build's commit if the environment provides it (CI, Dockerfile). */
export const GIT_COMMIT: string = process.env.CKPTD_GIT_COMMIT ?? '';
