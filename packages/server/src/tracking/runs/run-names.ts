import crypto from 'node:crypto';

/**
 * Names for runs created without one, in the shape MLflow gives them ("<adjective>-<noun>-<n>").
 * Word lists are our own.
 */
const ADJECTIVES = [
  'amber', 'bold', 'brave', 'bright', 'brisk', 'calm', 'clever', 'crisp', 'dapper', 'eager', 'fancy', 'gentle', 'glad', 'golden',
  'honest', 'jolly', 'keen', 'kind', 'lively', 'lucky', 'merry', 'mighty', 'nimble', 'noble', 'patient', 'placid', 'proud', 'quick',
  'quiet', 'rare', 'rapid', 'serene', 'sharp', 'shy', 'silent', 'smooth', 'steady', 'sunny', 'swift', 'tidy', 'vivid', 'warm', 'wise',
  'witty', 'zesty',
];
const NOUNS = [
  'ant', 'badger', 'bee', 'bison', 'cat', 'cod', 'crane', 'crow', 'deer', 'dove', 'eel', 'elk', 'finch', 'fox', 'frog', 'gnu', 'goat',
  'hare', 'hawk', 'heron', 'ibis', 'jay', 'koala', 'lark', 'lemur', 'lion', 'lynx', 'mole', 'moth', 'newt', 'otter', 'owl', 'panda',
  'pike', 'quail', 'ram', 'robin', 'seal', 'shrew', 'snail', 'swan', 'toad', 'trout', 'vole', 'wasp', 'whale', 'wolf', 'wren', 'yak',
];

export function randomRunName(): string {
  const a = ADJECTIVES[crypto.randomInt(ADJECTIVES.length)]!;
  const n = NOUNS[crypto.randomInt(NOUNS.length)]!;
  return `${a}-${n}-${crypto.randomInt(1000)}`;
}
