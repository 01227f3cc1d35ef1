import fs from 'node:fs';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import { fromRoot } from './paths.js';

const LIST_FILE = fromRoot('data-files', 'common-passwords.txt');
let common: Set<string> | undefined;

/** The 10,000 most common passwords of 8+ characters, shipped with the project; compared case-insensitively. */
export function isCommonPassword(password: string): boolean {
  common ??= new Set(fs.readFileSync(LIST_FILE, 'utf8').split('\n').map((l) => l.trim().toLowerCase()).filter(Boolean));
  return common.has(password.toLowerCase());
}

export interface HashParams {
  memoryCost: number;
  timeCost: number;
}

export function passwordHasher(params: HashParams) {
  return {
    hash: (password: string) =>
      hash(password, { algorithm: Algorithm.Argon2id, memoryCost: params.memoryCost, timeCost: params.timeCost, parallelism: 1 }),
    verify: async (stored: string, password: string) => {
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    },
  };
}
export type PasswordHasher = ReturnType<typeof passwordHasher>;
