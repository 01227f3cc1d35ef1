import { describe, expect, it } from 'vitest';
import { revisionMemo } from '../src/modules/records/revisions.js';

describe('revisionMemo', () => {
  const counting = () => {
    let calls = 0;
    return { compute: (v: string) => () => (calls++, Promise.resolve(v)), calls: () => calls };
  };

  it('reuses a value while its revision holds and within its lifetime; recomputes when either moves', async () => {
    const memo = revisionMemo<string>({ ttlMs: 1_000, maxEntries: 10 });
    const c = counting();
    expect(await memo('k', 'r1', c.compute('a'), 0)).toBe('a');
    expect(await memo('k', 'r1', c.compute('b'), 999)).toBe('a');
    expect(await memo('k', 'r2', c.compute('c'), 999)).toBe('c');
    expect(await memo('k', 'r2', c.compute('d'), 2_000)).toBe('d');
    expect(c.calls()).toBe(3);
  });

  it('past maxEntries the least recently used goes, not the first stored', async () => {
    const memo = revisionMemo<string>({ ttlMs: 60_000, maxEntries: 2 });
    const c = counting();
    await memo('first', 'r', c.compute('1'), 0);
    await memo('second', 'r', c.compute('2'), 0);
    await memo('first', 'r', c.compute('x'), 1); // used again: now the most recent
    await memo('third', 'r', c.compute('3'), 2); // pushes out "second"
    expect(await memo('first', 'r', c.compute('y'), 3)).toBe('1');
    expect(await memo('second', 'r', c.compute('2 again'), 4)).toBe('2 again');
    expect(c.calls()).toBe(4);
  });

  it('a failed computation is not kept', async () => {
    const memo = revisionMemo<string>({ ttlMs: 60_000, maxEntries: 2 });
    await expect(memo('k', 'r', () => Promise.reject(new Error('down')), 0)).rejects.toThrow('down');
    expect(await memo('k', 'r', () => Promise.resolve('ok'), 1)).toBe('ok');
  });
});
