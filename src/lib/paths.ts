import fs from 'node:fs';
import path from 'node:path';

/** The project root (where package.json is), the same whether running from src/ with tsx or from dist/. */
function findRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${start}`);
    dir = parent;
  }
  return dir;
}

export const ROOT = findRoot(import.meta.dirname);
export const fromRoot = (...parts: string[]) => path.join(ROOT, ...parts);
