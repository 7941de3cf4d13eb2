import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';

/**
 * tiedCommand returns the command line that runs `program args` so that it is killed when ckptd
 * dies (prctl PR_SET_PDEATHSIG through util-linux's setpriv, which then execs the program): an
 * unpacker or compressor of a request must not outlive a daemon killed mid-request and keep
 * writing into a staging directory the next start removes. Without setpriv, the program as is.
 * Credentials (spawn's uid/gid) are applied before setpriv runs, so the signal survives them.
 */
export function tiedCommand(program: string, args: readonly string[]): [string, string[]] {
  if (!existsSync(SETPRIV)) return [program, [...args]];
  return [SETPRIV, ['--pdeathsig', 'KILL', '--', program, ...args]];
}
