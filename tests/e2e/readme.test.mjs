// The JavaScript examples of the README and of every page in docs/, run in the page, so that the
// documentation cannot drift from the code. Each ```js block runs in a fresh page, line by line in
// one scope (as typed into the console); a line whose comment begins with a value (`// true`,
// `// 3`, `// {status: 'ok', ...}`) must produce it: objects and arrays are matched field by
// field, exactly unless they end in `...`, and a bare field name only has to be there. Comments
// that begin with words are prose. The addresses they show (`?seed=42&...`, `?lesson=...`) open
// the page as they say, and the `window.sim` calls of the README's table of the tutorial run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageSuite, TEST_TIMEOUT_MS } from './steps.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const README = await readFile(join(ROOT, 'README.md'), 'utf8');
/** The README and every page in docs/, by the name tests and messages give them. */
const PAGES = [
  { name: 'README.md', text: README },
  ...(await Promise.all(
    (await readdir(join(ROOT, 'docs')))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map(async (f) => ({ name: `docs/${f}`, text: await readFile(join(ROOT, 'docs', f), 'utf8') })),
  )),
];
const ALL = PAGES.map((p) => p.text).join('\n');

/** A page's code blocks in `lang`, with the line each starts on. */
function blocks(lang, text = README) {
  const found = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```' + lang) continue;
    const body = [];
    const start = i + 2;
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]);
    found.push({ start, lines: body });
  }
  return found;
}

/** Splits `text` at `sep` where it is not inside quotes or brackets. */
function splitTop(text, sep) {
  const parts = [];
  let depth = 0;
  let quote = null;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      parts.push(text.slice(from, i));
      from = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(text.slice(from));
  return parts;
}

/** A line's code and its comment (the first `//` outside quotes). */
function splitComment(line) {
  const [code, ...rest] = splitTop(line, '//');
  return { code: code.trim(), comment: rest.length ? rest.join('//').trim() : '' };
}

// ----- The expected values in comments: a small reader for JS-like patterns -----

/** Tokens of a pattern: brackets, punctuation, `...`, strings, numbers, words. */
function tokens(text) {
  const out = [];
  const re = /\s*(\.\.\.|[{}[\],:]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|[A-Za-z_$][\w$]*)/y;
  let m;
  while ((m = re.exec(text))) out.push(m[1]);
  return { list: out, rest: text.slice(re.lastIndex) };
}

/** Reads the value a comment begins with, or undefined if it begins with prose. */
function expectation(comment) {
  if (!/^(\{|\[|-?\d|'|"|true\b|false\b|null\b)/.test(comment)) return undefined;
  const { list } = tokens(comment);
  let at = 0;
  const next = () => list[at++];
  const peek = () => list[at];
  /** The items up to `close`, each read by `item`; `...` among them marks the list open. */
  function items(close, item) {
    const found = [];
    let open = false;
    while (peek() !== close) {
      if (peek() === '...') {
        next();
        open = true;
      } else found.push(item());
      if (peek() === ',') next();
      else if (peek() !== close) throw new Error(`cannot read ${comment}`);
    }
    next();
    return { found, open };
  }
  function field() {
    let name = next();
    if (/^['"]/.test(name)) name = name.slice(1, -1);
    if (peek() !== ':') return { name, present: true };
    next();
    return { name, value: value() };
  }
  function value() {
    const t = next();
    if (t === '{') {
      const { found, open } = items('}', field);
      return { object: found, open };
    }
    if (t === '[') {
      const { found, open } = items(']', value);
      return { array: found, open };
    }
    if (/^['"]/.test(t)) return { literal: t.slice(1, -1) };
    if (/^-?\d/.test(t)) return { literal: Number(t) };
    if (t === 'true' || t === 'false') return { literal: t === 'true' };
    if (t === 'null') return { literal: null };
    throw new Error(`cannot read ${comment}: ${t}`);
  }
  return value();
}

/** Why `actual` does not match `pattern` (at `path`), or null if it does. */
function mismatch(pattern, actual, path = 'the result') {
  if ('literal' in pattern) {
    return Object.is(actual, pattern.literal) ? null : `${path} is ${JSON.stringify(actual)}, not ${JSON.stringify(pattern.literal)}`;
  }
  if ('array' in pattern) {
    if (!Array.isArray(actual)) return `${path} is not a list: ${JSON.stringify(actual)}`;
    if (pattern.open ? actual.length < pattern.array.length : actual.length !== pattern.array.length) {
      return `${path} has ${actual.length} items: ${JSON.stringify(actual)}`;
    }
    for (let i = 0; i < pattern.array.length; i++) {
      const why = mismatch(pattern.array[i], actual[i], `${path}[${i}]`);
      if (why) return why;
    }
    return null;
  }
  if (actual === null || typeof actual !== 'object') return `${path} is not an object: ${JSON.stringify(actual)}`;
  for (const field of pattern.object) {
    if (!(field.name in actual)) return `${path} has no ${field.name}: ${JSON.stringify(actual)}`;
    if (!field.present) {
      const why = mismatch(field.value, actual[field.name], `${path}.${field.name}`);
      if (why) return why;
    }
  }
  if (!pattern.open) {
    const named = new Set(pattern.object.map((f) => f.name));
    const extra = Object.keys(actual).filter((k) => !named.has(k));
    if (extra.length) return `${path} has fields the README does not show (${extra.join(', ')}): add them or "..."`;
  }
  return null;
}

/**
 * The block as one function body for the page: every statement as written, and after each line
 * that states a value, that line's last expression (or the name it declared) kept for checking.
 */
function instrument(lines) {
  const body = [];
  const checks = [];
  for (const [i, line] of lines.entries()) {
    const { code, comment } = splitComment(line);
    if (!code) continue;
    const statements = splitTop(code, ';').map((s) => s.trim()).filter(Boolean);
    const pattern = expectation(comment);
    if (pattern === undefined) {
      body.push(statements.join(';\n') + ';');
      continue;
    }
    const last = statements.pop();
    body.push(...statements.map((s) => s + ';'));
    const declared = /^(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=/.exec(last);
    if (declared) body.push(`${last};`, `__seen.push(${declared[1]});`);
    else body.push(`__seen.push(${last});`);
    checks.push({ line: i, code, comment, pattern });
  }
  return { source: `const __seen = [];\n${body.join('\n')}\nreturn JSON.parse(JSON.stringify(__seen));`, checks };
}

const withPage = pageSuite();

test('the README and docs/api.md have JavaScript examples, and the pattern reader reads them', () => {
  assert.ok(blocks('js').length >= 1, 'the README has an example');
  assert.ok(blocks('js', PAGES.find((p) => p.name === 'docs/api.md').text).length >= 1, 'docs/api.md has examples');
  const p = expectation("{id, status: 'ok', versions: [{write: 1, ...}], n: -2, ...}: prose");
  assert.equal(mismatch(p, { id: 3, status: 'ok', versions: [{ write: 1, value: 'x' }], n: -2, more: 1 }), null);
  assert.match(mismatch(p, { id: 3, status: 'pending', versions: [{ write: 1 }], n: -2 }), /status/);
  assert.match(mismatch(expectation('{a: 1}'), { a: 1, b: 2 }), /fields the README does not show/);
  assert.equal(expectation('handled events'), undefined);
  assert.equal(mismatch(expectation('false: node 3 missed it'), false), null);
});

// Each block, on pages with different seeds: what the documentation claims must not hang on one.
for (const { name: file, text } of PAGES) {
  for (const [n, block] of blocks('js', text).entries()) {
    for (const seed of [1, 2, 3]) {
      const name = `${file} JavaScript example ${n + 1} (line ${block.start}) holds with seed ${seed}`;
      test(name, { timeout: TEST_TIMEOUT_MS }, withPage({ query: `?seed=${seed}` }, async (page) => {
        await page.evaluate(() => window.sim.pause());
        const { source, checks } = instrument(block.lines);
        assert.ok(checks.length > 0, 'the example states what it gives');
        const seen = await page.evaluate((source) => new Function(source)(), source);
        for (const [i, check] of checks.entries()) {
          const why = mismatch(check.pattern, seen[i]);
          assert.equal(why, null, `${file} line ${block.start + check.line}: ${check.code}  // ${check.comment}\n${why}`);
        }
      }));
    }
  }
}

// The README's table from the tutorial to the page: its `window.sim` column, run in order.
const tableCalls = (() => {
  const lines = README.split('\n');
  const header = lines.findIndex((l) => l.startsWith('|') && l.includes('`window.sim`'));
  const calls = [];
  for (let i = header + 2; header >= 0 && lines[i]?.startsWith('|'); i++) {
    const cells = lines[i].split('|').slice(1, -1);
    calls.push(/`([^`]+)`/.exec(cells[cells.length - 1])[1]);
  }
  return calls;
})();

test(`the window.sim calls of the README's table of the tutorial run in order (${tableCalls.join('; ')})`, { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=1' }, async (page) => {
  assert.ok(tableCalls.length >= 5 && tableCalls.every((c) => c.startsWith('sim.')), `found ${tableCalls.join('; ')}`);
  await page.evaluate(() => window.sim.pause());
  const results = await page.evaluate((calls) => calls.map((call) => {
    try {
      const value = new Function(`return ${call}`)();
      return { ok: true, value: JSON.parse(JSON.stringify(value ?? null)) };
    } catch (e) {
      return { ok: false, error: String(e) };
    }
  }), tableCalls);
  for (const [i, r] of results.entries()) assert.ok(r.ok, `${tableCalls[i]}: ${r.error}`);
  const nodes = await page.evaluate(() => window.sim.nodes());
  assert.equal(nodes.length, 3, 'three nodes, as the tutorial starts');
  assert.ok(nodes[2].up, 'node 3 is back after its crash');
  assert.equal(typeof results[results.length - 1].value, 'boolean', 'converged() says yes or no');
}));

const queries = [...ALL.matchAll(/`(\?[^`\s]+)`/g)].map((m) => m[1]);
const settingsLink = queries.find((q) => q.includes('seed=42'));
const lessonLink = queries.find((q) => q.startsWith('?lesson='));

test('the README and docs/ show a settings address and a lesson address', () => {
  assert.ok(settingsLink && lessonLink, `found ${queries.join(' ')}`);
});

test(`the settings address the docs show (${settingsLink}) sets what it names`, { timeout: TEST_TIMEOUT_MS }, withPage({ query: settingsLink }, async (page) => {
  const s = await page.evaluate(() => window.sim.settings());
  for (const [name, value] of new URLSearchParams(settingsLink)) {
    if (name === 'latency') {
      const [, min, max] = /uniform:(\d+)-(\d+)/.exec(value);
      assert.deepEqual(s.latency, { kind: 'uniform', minMs: Number(min), maxMs: Number(max) });
    } else if (/^\d+$/.test(value)) assert.equal(s[name], Number(value), name);
    else assert.equal(s[name], value, name);
  }
}));

test(`the lesson address the docs show (${lessonLink}) opens that lesson at that step`, { timeout: TEST_TIMEOUT_MS }, withPage({ query: lessonLink }, async (page) => {
  const params = new URLSearchParams(lessonLink);
  await page.waitForFunction(() => window.sim.lesson() !== null);
  const lesson = await page.evaluate(() => window.sim.lesson());
  assert.equal(lesson.id, params.get('lesson'));
  assert.equal(lesson.step, Number(params.get('step')));
}));

test('the screenshot command the docs show saves a picture', async () => {
  const line = ALL.split('\n').find((l) => l.includes('node scripts/screenshot.mjs'));
  const [, query, script] = /node scripts\/screenshot\.mjs "([^"]*)" "([^"]*)"/.exec(line);
  const name = 'readme-screenshot-example';
  const { stdout } = await promisify(execFile)('node', [join(ROOT, 'scripts', 'screenshot.mjs'), query, script, name], { cwd: ROOT });
  const path = stdout.trim().split('\n')[0];
  assert.ok(path.endsWith(`${name}.png`) && existsSync(path), stdout);
  assert.doesNotMatch(stdout, /page errors/);
});
