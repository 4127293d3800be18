import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_INDEX_OPTIONS, DEFAULT_SEARCH_PARAMS } from '../src/index/options.js';
import { ERROR_CODES } from '../src/errors.js';
import { defaultText, SETTINGS } from '../src/server/config.js';
import { tempDir } from './helpers.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const tmp = tempDir('readme');
afterAll(() => tmp.cleanup());

describe('README stays true', () => {
  it('`npx strata …` runs the built CLI: the bin file is executable after `npm ci` (prepare) and answers --help', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
    const bin = fileURLToPath(new URL(`../${pkg.bin.strata}`, import.meta.url));
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    expect(execFileSync(bin, ['--help'], { encoding: 'utf8' })).toMatch(/^Usage: strata/);
  });

  it('the library example runs as written', () => {
    const block = /<!-- readme-example[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme);
    expect(block).not.toBeNull();
    const entry = new URL('../dist/src/strata.js', import.meta.url).href;
    const code = block![1].replace("from 'strata'", `from ${JSON.stringify(entry)}`);
    const file = join(tmp.dir, 'example.mjs');
    writeFileSync(file, code);
    const out = execFileSync(process.execPath, [file], { cwd: tmp.dir, encoding: 'utf8' });
    const arrays = [...out.matchAll(/Uint32Array\(5\)/g)];
    expect(arrays.length).toBe(2);
  });

  it('documents every build option and search parameter with its default', () => {
    for (const [name, value] of Object.entries({ ...DEFAULT_INDEX_OPTIONS, ...DEFAULT_SEARCH_PARAMS })) {
      const row = new RegExp('\\| `' + name + '` \\| `' + (typeof value === 'string' ? `'${value}'` : String(value)) + '` \\|');
      expect(readme, `README row for ${name} = ${value}`).toMatch(row);
    }
  });

  it('documents every service setting with its variable and default', () => {
    for (const st of SETTINGS) {
      const text = defaultText(st);
      const def = text === 'CPU cores' ? text : `\`${text}\``;
      expect(readme, `README row for ${st.flag}`).toContain(`| \`${st.flag}\` | \`${st.env}\` | ${def} |`);
    }
  });

  it('lists every error code with its status', () => {
    for (const [code, v] of Object.entries(ERROR_CODES)) expect(readme).toContain(`| \`${code}\` | ${v.status} |`);
  });

  it('keeps the two quick-start commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
