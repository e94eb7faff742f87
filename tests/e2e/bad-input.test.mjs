// Bad input never breaks the page and never changes the run: the form, the Settings form, the
// page address and window.sim each say what was wrong. User text is shown as text, never HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { browser, screenshot } from './helpers.mjs';
import {
  pageSuite, TEST_TIMEOUT_MS, pause, stats, result, writeViaForm, applySettings,
  waitForRow, nextFrames,
} from './steps.mjs';

const withPage = pageSuite();

/** Everything a command could change, to compare before and after a refused one. */
const snapshot = (page) => page.evaluate(() => ({
  trace: sim.traceHash(),
  now: sim.now(),
  stats: sim.stats(),
  settings: sim.settings(),
  nodes: sim.nodes(),
  keys: sim.keys(),
  cutLinks: sim.cutLinks(),
}));

const BAD_WRITES = [
  { what: 'an empty key', key: '', value: 'Alice', message: /the key is empty: give a key of at least one character/ },
  { what: 'a 257-character key', key: 'k'.repeat(257), value: 'Alice', message: /the key has 257 characters: keys may have at most 256/ },
  { what: 'a 4097-character value', key: 'name', value: 'v'.repeat(4097), message: /the value has 4097 characters: values may have at most 4096/ },
];

test('the Client form refuses bad input with a message and changes nothing', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  await pause(page);
  await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
  const before = await snapshot(page);
  for (const bad of BAD_WRITES) {
    const shown = await writeViaForm(page, { node: 2, key: bad.key, value: bad.value });
    assert.equal(shown.error, true, `${bad.what}: #client-result has class error`);
    assert.match(shown.text, bad.message, bad.what);
    await nextFrames(page);
    assert.deepEqual(await snapshot(page), before, `${bad.what} changed nothing`);
  }
  await screenshot(page, 'bad-input-form');
  // The longest allowed key and value are fine, and the error goes away.
  const ok = await writeViaForm(page, { node: 2, key: 'k'.repeat(256), value: 'v'.repeat(4096) });
  assert.equal(ok.error, false);
  assert.deepEqual(ok.tags, ['fresh']);
  assert.equal((await stats(page)).writes, before.stats.writes + 1);
}));

test('the Settings form refuses a loss of 2 with a message and changes nothing', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  await pause(page);
  const before = await snapshot(page);
  const shown = await applySettings(page, { loss: 2 });
  assert.equal(shown.error, true);
  assert.match(shown.text, /setting loss: 2 is not a probability: give a number from 0 to 1/);
  assert.deepEqual(await snapshot(page), before);

  const fixed = await applySettings(page, { loss: 0.5 });
  assert.deepEqual(fixed, { text: 'Applied to the running cluster.', error: false, tags: [] });
  assert.equal((await page.evaluate(() => sim.settings())).loss, 0.5);
}));

const BAD_ADDRESSES = [
  { query: '?nodes=999', message: /nodes: 999 nodes is out of range: the page draws 1 to 64/ },
  { query: '?loss=abc', message: /settings\.loss: .*invalid type: string "abc", expected a number/ },
  { query: '?latency=slow', message: /latency in the address must look like constant:100/ },
  { query: '?speed=1000', message: /speed must be a number from 0.1 to 100/ },
  // NaN and Infinity become JSON null ("no change"): they were dropped without a word.
  { query: '?seed=Infinity', message: /settings\.seed: Infinity is not a number that can be used/ },
  { query: '?loss=-Infinity', message: /settings\.loss: -Infinity is not a number that can be used/ },
  { query: `?seed=${'9'.repeat(5000)}`, message: /settings\.seed: Infinity is not a number that can be used/ },
];

for (const { query, message } of BAD_ADDRESSES) {
  test(`a bad address (${query.slice(0, 40)}) shows a toast and the page still runs`, { timeout: TEST_TIMEOUT_MS }, withPage({ query }, async (page) => {
    await page.waitForSelector('#toast:not([hidden])');
    const toast = await page.textContent('#toast');
    assert.match(toast, /could not be used/);
    assert.match(toast, message);
    if (query === BAD_ADDRESSES[0].query) await screenshot(page, 'bad-address-toast');
    const settings = await page.evaluate(() => sim.settings());
    assert.equal(settings.nodes, 3, 'the run starts with the defaults');
    assert.equal(settings.loss, 0);
    // Time moves, and the form still works.
    const start = await page.evaluate(() => sim.now());
    await page.waitForFunction((t) => sim.now() > t, start);
    const written = await writeViaForm(page, { node: 1, key: 'name', value: 'Alice' });
    assert.equal(written.error, false);
    assert.equal((await stats(page)).writes, 1);
  }));
}

test('a bad setting in the address is left out, the good ones are kept', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=42&loss=abc&nodes=5&conflict=crdt' }, async (page) => {
  await page.waitForSelector('#toast:not([hidden])');
  const toast = await page.textContent('#toast');
  assert.match(toast, /settings\.loss: invalid type/);
  assert.match(toast, /settings\.conflict: unknown variant `crdt`/);
  const settings = await page.evaluate(() => sim.settings());
  assert.equal(settings.seed, 42);
  assert.equal(settings.nodes, 5);
  assert.equal(settings.loss, 0);
  assert.equal(settings.conflict, 'arrival');
}));

test('an empty number in the Settings form is refused, not read as zero', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=42' }, async (page) => {
  await pause(page);
  await page.click('#settings-card summary');
  await page.fill('#set-seed', '');
  await page.click('#settings-form button[type="submit"]');
  const shown = await result(page, '#settings-result');
  assert.equal(shown.error, true);
  assert.match(shown.text, /Seed is empty: give a number/);
  assert.equal((await page.evaluate(() => sim.settings())).seed, 42);
}));

/** Runs `code` (a call to window.sim) in the page; says whether it threw, and what. */
const tryCall = (page, code) => page.evaluate((source) => {
  try {
    new Function(`return ${source}`)(); // eslint-disable-line no-new-func
    return { threw: false };
  } catch (err) {
    return { threw: true, isError: err instanceof Error, message: err.message };
  }
}, code);

/** Calls to window.sim that must throw, each with what the message must say. */
const BAD_CALLS = [
  ['sim.write(0, "k", "v")', /there is no node 0: nodes are numbered 1 to 3/],
  ['sim.write(4, "k", "v")', /there is no node 4/],
  ['sim.write(1.5, "k", "v")', /a node id must be a whole number, not the number 1.5/],
  ['sim.write("1", "k", "v")', /a node id must be a whole number, not the string "1"/],
  ['sim.write(1, 42, "v")', /the key must be a string, not the number 42/],
  ['sim.write(1, "k")', /the value must be a string, not nothing \(undefined\)/],
  ['sim.write(1, "", "v")', /the key is empty/],
  ['sim.write(1, "k".repeat(257), "v")', /keys may have at most 256/],
  ['sim.read(2, null)', /the key must be a string, not null/],
  ['sim.runFor(-5)', /give a time in milliseconds from 0 to 86400000, not the number -5/],
  ['sim.runFor(Infinity)', /give a time in milliseconds/],
  ['sim.runUntil("soon")', /give a time in milliseconds, not the string "soon"/],
  ['sim.cut(1, 1)', /node 1 has no link to itself/],
  ['sim.cut(1, 2, { oneWay: "yes" })', /option oneWay must be true or false/],
  ['sim.partition("1,2 3")', /partition takes an array of groups of node ids/],
  ['sim.partition([[1, 2], [2, 3]])', /node 2 is in more than one group/],
  ['sim.partition([[1, 2]])', /node 3 is in no group/],
  ['sim.crash(9)', /there is no node 9/],
  ['sim.recover(1)', /node 1 is not down/],
  ['sim.recover(2, { wipe: 1 })', /option wipe must be true or false/],
  ['sim.configure({ loss: 2 })', /setting loss: 2 is not a probability/],
  ['sim.configure({ nodes: 999 })', /the page draws 1 to 64/],
  ['sim.configure({ latency: { kind: "uniform", minMs: 500, maxMs: 100 } })', /latency/],
  ['sim.configure({ speed: 0 })', /speed must be a number from 0.1 to 100, not 0/],
  ['sim.configure("fast")', /settings must be an object such as \{ loss: 0.1 \}/],
  ['sim.reset({ seed: -1 })', /settings.seed/],
  ['sim.reset({ speed: 1, nodes: 0 })', /nodes/],
];

test('window.sim throws an Error that says what was wrong, and changes nothing', { timeout: TEST_TIMEOUT_MS }, withPage({ query: '?seed=8' }, async (page) => {
  await pause(page);
  // Something to lose: a write with messages in flight and a cut link.
  await page.evaluate(() => {
    sim.write(1, 'name', 'Alice');
    sim.cut(2, 3);
  });
  const before = await snapshot(page);
  for (const [call, message] of BAD_CALLS) {
    const outcome = await tryCall(page, call);
    assert.equal(outcome.threw, true, `${call} throws`);
    assert.equal(outcome.isError, true, `${call} throws an Error`);
    assert.match(outcome.message, message, call);
    assert.deepEqual(await snapshot(page), before, `${call} changed nothing`);
  }
  assert.equal((await page.evaluate(() => sim.settings())).speed, 0.25, 'the speed did not change either');
}));

test('user text is shown as text, never as HTML', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  await pause(page);
  const key = '<img src=x onerror=alert(1)>';
  const value = '<b>bold</b><script>alert(2)</script>';
  const written = await writeViaForm(page, { node: 1, key, value });
  assert.match(written.text, /<img src=x onerror=alert\(1\)> = <b>bold<\/b>/);
  const row = await waitForRow(page, key, [value, 'missing', 'missing']);
  assert.equal(row[0].text, value);
  await page.waitForFunction((k) => document.getElementById('status').textContent.includes(k), key);
  await page.waitForFunction((k) => document.getElementById('writes').textContent.includes(k), key);
  for (const where of ['#replicas', '#client-result', '#writes', '#status', '#menu']) {
    assert.equal(await page.$$eval(`${where} img, ${where} b, ${where} script`, (found) => found.length), 0, `no element made from user text in ${where}`);
  }
  assert.equal(await page.$$eval('img', (found) => found.length), 0, 'no img anywhere on the page');
  assert.deepEqual(dialogs, [], 'no script from user text ran');
}));

// A typo in a setting's name is refused, by sim.configure and sim.reset alike.
test('an unknown setting name is refused, not silently ignored', {
  timeout: TEST_TIMEOUT_MS,
}, withPage({ query: '?seed=8' }, async (page) => {
  await pause(page);
  const before = await snapshot(page);
  for (const call of ['sim.configure({ lossy: 0.1 })', 'sim.configure({ antientropy: true })', 'sim.reset({ Nodes: 5 })']) {
    const outcome = await tryCall(page, call);
    assert.match(outcome.threw ? outcome.message : 'did not throw', /unknown field/, call);
  }
  assert.deepEqual(await snapshot(page), before);
}));

// A bug in the core (a Rust panic) must never leave the page silently dead: the panic hook and
// the animation loop both report it in a banner that says the simulation stopped, and why.
test('a panic in the wasm core shows on the page', {
  timeout: TEST_TIMEOUT_MS,
}, withPage({ query: '?seed=3', expectErrors: /converge crashed|a deliberate test panic|unreachable/ }, async (page) => {
  assert.equal(await page.isVisible('#fatal'), false);
  await page.evaluate(async () => {
    const core = await import('./pkg/converge.js');
    try {
      core.crashForTesting('a deliberate test panic');
    } catch {
      // The trap reaches the caller too; the page must still say so on its own.
    }
  });
  await page.waitForSelector('#fatal:not([hidden])');
  const banner = await page.textContent('#fatal');
  assert.match(banner, /The simulation stopped/);
  assert.match(banner, /a deliberate test panic/);
  assert.equal(await page.isVisible('#fatal-reload'), true);
  await screenshot(page, 'panic-banner');
}));

test('when the simulation dies (out of memory), the page says so and reopens the last moment kept', {
  timeout: TEST_TIMEOUT_MS,
}, withPage({ query: '?seed=3', expectErrors: /unreachable|RuntimeError|recursive use/ }, async (page) => {
  await page.evaluate(() => {
    sim.pause();
    sim.write(1, 'name', 'Alice');
    sim.runFor(500);
  });
  // The page keeps the session every two seconds when it has changed.
  await page.waitForFunction(() => sessionStorage.getItem('converge-kept-session')?.includes('Alice'));
  const kept = await page.evaluate(() => JSON.parse(sessionStorage.getItem('converge-kept-session')).time);
  await page.evaluate(() => {
    try {
      window.converge.abortForTesting();
    } catch {
      // The trap reaches the caller; the page must say so on its own at its next frame.
    }
  });
  await page.waitForSelector('#fatal:not([hidden])');
  const banner = await page.textContent('#fatal');
  assert.match(banner, /The simulation stopped\.\s+It ran out of memory, or hit an internal error, and cannot go on\./);
  assert.doesNotMatch(banner, /new run started|recursive use/);
  assert.equal(await page.isVisible('#fatal-again'), true);
  assert.equal(await page.textContent('#fatal-again'), `Reopen the last moment kept (t = ${(kept / 1000).toFixed(1)} s)`);
  await screenshot(page, 'died-banner');
  await Promise.all([page.waitForEvent('load'), page.click('#fatal-again')]);
  // Until the reload, the dead page's sim throws: not yet.
  await page.waitForFunction((t) => {
    try {
      return document.documentElement.dataset.ready === 'true' && sim.now() === t;
    } catch {
      return false;
    }
  }, kept);
  assert.equal(await page.isVisible('#fatal'), false);
  const row = await page.evaluate(() => sim.keys().find((k) => k.key === 'name'));
  assert.ok(row, 'the key written before the crash is back');
}));

test('runFor a whole day on 64 nodes goes on in slices: the page draws, shows progress, and Cancel stops it where it got to', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  await pause(page);
  // Anti-entropy every 10 ms on 64 nodes: a day is over a billion events, hours in one go.
  await page.evaluate(() => {
    sim.reset({ nodes: 64, seed: 3 });
    sim.configure({ antiEntropy: true, antiEntropyIntervalMs: 10 });
    // A short run still answers at once, with a number.
    window.shortRun = sim.runFor(100);
    window.longRun = sim.runFor(86_400_000);
    window.longRunType = typeof window.longRun.then;
  });
  assert.equal(typeof await page.evaluate(() => window.shortRun), 'number');
  assert.equal(await page.evaluate(() => window.longRunType), 'function', 'a long run returns a Promise');
  await page.waitForSelector('#loading', { state: 'visible' });
  assert.match(await page.textContent('#loading-text'), /^Running to t = 86400\.1 s… \d+%$/);
  // The page lives: frames come, and the run moves between them.
  const t1 = await page.evaluate(() => sim.now());
  await nextFrames(page, 10);
  const t2 = await page.evaluate(() => sim.now());
  assert.ok(t2 > t1, `time moved from ${t1} to ${t2} ms`);
  const again = await page.evaluate(() => { try { sim.runFor(10); return 'ran'; } catch (e) { return e.message; } });
  assert.match(again, /a run to t = 86400100 ms is still going/);
  await page.click('#loading-cancel');
  const handled = await page.evaluate(() => window.longRun);
  assert.ok(handled > 1_000_000, `${handled} events`);
  await page.waitForSelector('#loading', { state: 'hidden' });
  const now = await page.evaluate(() => sim.now());
  assert.ok(now > 100 && now < 86_400_100, `stopped at ${now} ms`);
  // The page goes on: a write and a short run work.
  await page.evaluate(() => { sim.write(1, 'k', 'v'); return sim.runFor(50); });
  assert.equal((await stats(page)).writes, 1);
}));

test('a seeded fuzz of page addresses: each is taken or refused with a short message, never a panic', { timeout: TEST_TIMEOUT_MS }, withPage(async (page) => {
  const { failed, taken, refused } = await page.evaluate(async () => {
    const { settingsFromUrl } = await import('./url.js');
    const { Simulation } = await import('./pkg/converge.js');
    const names = ['seed', 'nodes', 'conflict', 'latency', 'loss', 'duplication', 'replicationFactor', 'writeQuorum',
      'readQuorum', 'coordination', 'antiEntropy', 'antiEntropyIntervalMs', 'clockSkewMs', 'speed', 'dissemination',
      'vnodes', 'readRepair', 'hintedHandoff', 'tombstoneGraceMs', 'lesson', 'step', 'bogus', 'n0des', '__proto__'];
    const values = ['', '0', '-1', '1.5', '1e308', 'Infinity', '-Infinity', 'NaN', '9'.repeat(400), 'true', 'false',
      'lww', 'vv', 'quorum', 'gossip', 'uniform:50-150', 'uniform:150-50', 'uniform:-5-3', 'constant:1e9', 'constant:',
      '\u0000', '<img src=x onerror=alert(1)>', '{"1":-9223372036854775808}', '[1,2]', '0.5', '64', '65', '1024',
      'x'.repeat(5000), '%', '&&&', { raw: '%ED%A0%80' }, { raw: '%' }, { raw: '%zz' }, { raw: '%00' }];
    // Written into the address as they are: text that is not valid percent-encoding.
    const encode = (v) => (typeof v === 'string' ? encodeURIComponent(v) : v.raw);
    const good = { seed: '42', nodes: '5', conflict: 'vv', latency: 'uniform:50-150', loss: '0.1', duplication: '0',
      replicationFactor: '3', writeQuorum: 'quorum', readQuorum: 'one', coordination: 'quorum', antiEntropy: 'true',
      antiEntropyIntervalMs: '500', dissemination: 'gossip', vnodes: '8', readRepair: 'async', hintedHandoff: 'sloppy',
      tombstoneGraceMs: '1000', speed: '2', lesson: 'quorums', step: '2' };
    // mulberry32: 32-bit integer steps (Math.imul), so no precision is lost as with floats.
    let state = 20261207;
    const pick = (n) => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const failed = [];
    let taken = 0;
    let refused = 0;
    const badMessage = (m) => typeof m !== 'string' || m.length === 0 || m.length > 400 || /unreachable|RuntimeError|panicked|recursive use/.test(m);
    for (let i = 0; i < 1500; i++) {
      const parts = [];
      for (let j = 0, count = 1 + pick(4); j < count; j++) {
        const name = names[pick(names.length)];
        // Half the time a value the setting takes, so that both outcomes are reached.
        const value = good[name] !== undefined && pick(2) === 0 ? good[name] : values[pick(values.length)];
        parts.push(`${name}=${encode(value)}`);
      }
      const query = `?${parts.join('&')}`;
      let parsed;
      try {
        parsed = settingsFromUrl(query);
      } catch (err) {
        failed.push([query.slice(0, 200), `settingsFromUrl threw ${err}`]);
        continue;
      }
      for (const problem of parsed.problems) if (badMessage(problem)) failed.push([query.slice(0, 200), problem.slice(0, 200)]);
      try {
        new Simulation(parsed.settings).free();
        taken += 1;
      } catch (err) {
        refused += 1;
        if (!(err instanceof Error) || badMessage(err.message)) failed.push([query.slice(0, 200), String(err).slice(0, 200)]);
      }
    }
    return { failed: failed.slice(0, 5), taken, refused };
  });
  assert.deepEqual(failed, []);
  // Both outcomes are reached, so the check above looked at many refusals.
  assert.ok(taken > 200 && refused > 200, `${taken} taken, ${refused} refused`);
  // The page is alive and its run unchanged by any of it.
  assert.equal(await page.evaluate(() => typeof sim.runFor(10)), 'number');
}));

test('opened from disk (file://), the page says to serve it, and how', { timeout: TEST_TIMEOUT_MS }, async () => {
  const www = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'www', 'index.html');
  const b = await browser();
  try {
    const page = await b.newPage();
    await page.goto(pathToFileURL(www).href);
    await page.waitForSelector('#from-disk', { state: 'visible' });
    assert.match(await page.textContent('#from-disk'), /must be served, not opened from disk[\s\S]*bash scripts\/serve\.sh/);
  } finally {
    await b.close();
  }
});
