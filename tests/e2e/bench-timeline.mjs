// Time travel under load, in the page (wasm in headless Chromium): a ten-minute run of 16 nodes
// with a write every 100 ms (or --every) and anti-entropy, then jumps to random earlier and later moments.
// Prints how long each jump takes (the target: well under 100 ms); never fails on a slow machine.
//
//   node tests/e2e/bench-timeline.mjs [--minutes 10] [--jumps 30] [--every 100 (ms between writes)]
import { parseArgs } from 'node:util';
import { serve, browser, openPage } from './helpers.mjs';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    jumps: { type: 'string', default: '30' },
    every: { type: 'string', default: '100' },
  },
});
const minutes = Number(args.minutes);
const jumps = Number(args.jumps);
const every = Number(args.every);

const server = await serve();
const b = await browser();
try {
  const { page } = await openPage(b, server.url, { query: '?seed=3&nodes=16&antiEntropy=true' });
  const result = await page.evaluate(({ minutes, jumps, every }) => {
    sim.pause();
    sim.reset();
    const end = minutes * 60_000;
    const built = performance.now();
    for (let t = 0, i = 0; t < end; t += every, i++) {
      sim.runUntil(t);
      sim.write((i % 16) + 1, `k${i % 20}`, 'v');
    }
    sim.runUntil(end);
    const buildMs = performance.now() - built;
    const events = sim.eventsHandled();
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const times = [];
    for (let i = 0; i < jumps; i++) {
      const target = Math.floor(random() * end);
      const start = performance.now();
      sim.seek(target);
      times.push(performance.now() - start);
    }
    const stepBacks = [];
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      sim.stepBack();
      stepBacks.push(performance.now() - start);
    }
    return { buildMs, events, times, stepBacks };
  }, { minutes, jumps, every });
  const stats = (xs) => {
    const s = [...xs].sort((a, c) => a - c);
    const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return `median ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms, max ${s.at(-1).toFixed(1)} ms`;
  };
  console.log(`timeline benchmark: ${minutes} min of virtual time, 16 nodes, a write every ${every} ms, ${result.events} events (built in ${(result.buildMs / 1000).toFixed(1)} s)`);
  console.log(`  jump to a random moment (${jumps}): ${stats(result.times)}`);
  console.log(`  step back one event (20):         ${stats(result.stepBacks)}`);
} finally {
  await b.close();
  await server.close();
}
