/**
 * Prints the README "Scaling" index list and shard keys, generated from the modules' declarations;
 * with `--write`, puts them into README.md between their markers (test/platform/index-catalogue.test.ts
 * fails while they are stale).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexTable, shardTable } from '../src/modules/index-catalogue.js';

const sections = [
  ['indexes', indexTable()],
  ['shard-keys', shardTable()],
] as const;

if (process.argv.includes('--write')) {
  const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
  let text = readFileSync(readme, 'utf8');
  for (const [name, table] of sections) {
    const marker = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(\\n<!-- ${name}:end -->)`);
    if (!marker.test(text)) throw new Error(`README.md has no ${name} markers`);
    text = text.replace(marker, (_whole, start: string, end: string) => `${start}${table}${end}`);
  }
  writeFileSync(readme, text);
  process.stdout.write('README.md: index list and shard keys updated\n');
} else {
  process.stdout.write(`${sections.map(([, table]) => table).join('\n\n')}\n`);
}
