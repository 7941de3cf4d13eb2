/**
 * Container names and IDs the Docker way: name validation (moby `daemon/names.go`), random
 * `adjective_surname` names (moby `pkg/namesgenerator`) and 64-hex IDs (moby `pkg/stringid`).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { InvalidArgumentError } from '../errors/index.js';

/** VALID_CONTAINER_NAME_CHARS is the character-class text Docker prints in its error. */
export const VALID_CONTAINER_NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
const containerNamePattern = new RegExp(`^/?${VALID_CONTAINER_NAME_CHARS}+$`);
const checkpointIdPattern = new RegExp(`^${VALID_CONTAINER_NAME_CHARS}+$`);

/**
 * validateContainerName checks a user-given container name and returns it without the leading
 * `/`. A bad name is InvalidArgumentError
 * `Invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`.
 */
export function validateContainerName(name: string): string {
  if (!containerNamePattern.test(name)) {
    throw new InvalidArgumentError(
      `Invalid container name (${name}), only ${VALID_CONTAINER_NAME_CHARS} are allowed`,
    );
  }
  return name.startsWith('/') ? name.slice(1) : name;
}

/** isValidContainerName reports whether name passes validateContainerName. */
export function isValidContainerName(name: string): boolean {
  return containerNamePattern.test(name);
}

/**
 * validateCheckpointId checks a checkpoint name: the same characters as a container name, no `/`
 * at all, so `..`, `../x`, `foo/bar` and absolute paths never reach a path join.
 */
export function validateCheckpointId(id: string): string {
  if (!checkpointIdPattern.test(id)) {
    throw new InvalidArgumentError(
      `Invalid checkpoint ID (${id}), only ${VALID_CONTAINER_NAME_CHARS} are allowed`,
    );
  }
  return id;
}

/** NAME_ADJECTIVES are the left halves of generated names. */
export const NAME_ADJECTIVES: readonly string[] = [
  'admiring',
  'adoring',
  'affectionate',
  'agitated',
  'amazing',
  'angry',
  'awesome',
  'beautiful',
  'blissful',
  'bold',
  'boring',
  'brave',
  'busy',
  'charming',
  'clever',
  'compassionate',
  'competent',
  'condescending',
  'confident',
  'cool',
  'cranky',
  'crazy',
  'dazzling',
  'determined',
  'distracted',
  'dreamy',
  'eager',
  'ecstatic',
  'elastic',
  'elated',
  'elegant',
  'eloquent',
  'epic',
  'exciting',
  'fervent',
  'festive',
  'flamboyant',
  'focused',
  'friendly',
  'frosty',
  'funny',
  'gallant',
  'gifted',
  'goofy',
  'gracious',
  'great',
  'happy',
  'hardcore',
  'heuristic',
  'hopeful',
  'hungry',
  'infallible',
  'inspiring',
  'intelligent',
  'interesting',
  'jolly',
  'jovial',
  'keen',
  'kind',
  'laughing',
  'loving',
  'lucid',
  'magical',
  'modest',
  'musing',
  'mystifying',
  'naughty',
  'nervous',
  'nice',
  'nifty',
  'nostalgic',
  'objective',
  'optimistic',
  'peaceful',
  'pedantic',
  'pensive',
  'practical',
  'priceless',
  'quirky',
  'quizzical',
  'recursing',
  'relaxed',
  'reverent',
  'romantic',
  'sad',
  'serene',
  'sharp',
  'silly',
  'sleepy',
  'stoic',
  'strange',
  'stupefied',
  'suspicious',
  'sweet',
  'tender',
  'thirsty',
  'trusting',
  'unruffled',
  'upbeat',
  'vibrant',
  'vigilant',
  'vigorous',
  'wizardly',
  'wonderful',
  'xenodochial',
  'youthful',
  'zealous',
  'zen',
];

/** NAME_SURNAMES are the right halves of generated names: notable scientists and hackers. */
export const NAME_SURNAMES: readonly string[] = [
  'agnesi',
  'albattani',
  'allen',
  'almeida',
  'archimedes',
  'ardinghelli',
  'babbage',
  'banach',
  'bardeen',
  'bartik',
  'bell',
  'benz',
  'bhabha',
  'blackwell',
  'bohr',
  'booth',
  'borg',
  'bose',
  'brahmagupta',
  'brattain',
  'brown',
  'carson',
  'cerf',
  'chandrasekhar',
  'chebyshev',
  'clarke',
  'cohen',
  'curie',
  'darwin',
  'davinci',
  'dijkstra',
  'dubinsky',
  'easley',
  'edison',
  'einstein',
  'elion',
  'engelbart',
  'euclid',
  'euler',
  'fermat',
  'fermi',
  'feynman',
  'franklin',
  'galileo',
  'gauss',
  'goldberg',
  'goodall',
  'hamilton',
  'hawking',
  'heisenberg',
  'hermann',
  'hodgkin',
  'hopper',
  'hypatia',
  'jackson',
  'jang',
  'johnson',
  'kalam',
  'kapitsa',
  'keller',
  'kepler',
  'khorana',
  'knuth',
  'kowalevski',
  'lalande',
  'lamarr',
  'leakey',
  'leavitt',
  'lovelace',
  'lumiere',
  'mahavira',
  'mayer',
  'mccarthy',
  'mcclintock',
  'meitner',
  'mendel',
  'mirzakhani',
  'morse',
  'napier',
  'newton',
  'nightingale',
  'nobel',
  'noether',
  'pascal',
  'pasteur',
  'payne',
  'perlman',
  'pike',
  'poincare',
  'ptolemy',
  'raman',
  'ramanujan',
  'ride',
  'ritchie',
  'rosalind',
  'sammet',
  'shannon',
  'shockley',
  'sinoussi',
  'stonebraker',
  'swanson',
  'tesla',
  'thompson',
  'torvalds',
  'turing',
  'villani',
  'volhard',
  'wiles',
  'williams',
  'wozniak',
  'wright',
  'yalow',
  'yonath',
];

/** RandomInt returns an integer in [0, n); tests inject a deterministic one. */
export type RandomInt = (n: number) => number;

const cryptoRandomInt: RandomInt = (n) => randomInt(n);

function pick(list: readonly string[], rand: RandomInt): string {
  return list[rand(list.length)] ?? list[0] ?? '';
}

/**
 * generateName returns a random `adjective_surname` name. On a retry (the previous name was
 * taken) a random digit is appended, as moby does; `boring_wozniak` is never produced
 * ("Steve Wozniak is not boring").
 */
export function generateName(retry = 0, rand: RandomInt = cryptoRandomInt): string {
  for (;;) {
    const name = `${pick(NAME_ADJECTIVES, rand)}_${pick(NAME_SURNAMES, rand)}`;
    if (name === 'boring_wozniak') continue;
    return retry > 0 ? `${name}${rand(10)}` : name;
  }
}

/** RandomBytes returns n random bytes; tests inject a deterministic one. */
export type RandomBytes = (n: number) => Uint8Array;

/**
 * generateContainerId returns a random 64-hex ID. Like moby's `stringid.GenerateRandomID` it
 * rejects IDs whose 12-char short form is all digits, which tools would read as a number.
 */
export function generateContainerId(rand: RandomBytes = (n) => randomBytes(n)): string {
  for (;;) {
    const id = Buffer.from(rand(32)).toString('hex');
    if (!/^[0-9]+$/.test(id.slice(0, 12))) return id;
  }
}
