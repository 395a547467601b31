// Every source and test file is listed in www/Makefile.inc (for make dist).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const www = join(import.meta.dirname, '..');
const walk = (dir) => readdirSync(join(www, dir)).flatMap((n) => {
  const rel = dir + '/' + n;
  return statSync(join(www, rel)).isDirectory() ? walk(rel) : [rel];
});

describe('www/Makefile.inc', () => {
  const inc = readFileSync(join(www, 'Makefile.inc'), 'utf8');
  const listed = new Set([...inc.matchAll(/^\s*(www\/\S+)\s*\\$/gm)].map((m) => m[1].slice(4)));
  it('lists every file', () => {
    const files = [...walk('src'), ...walk('test'), ...walk('public'), 'index.html', 'package.json', 'package-lock.json', 'vite.config.js'];
    expect(files.filter((f) => !listed.has(f))).toEqual([]);
  });
  it('lists nothing that is gone', () => {
    expect([...listed].filter((f) => { try { statSync(join(www, f)); return false; } catch { return true; } })).toEqual([]);
  });
});
