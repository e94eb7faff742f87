// The page's address: the settings it names (`?seed=42&nodes=5&conflict=lww&latency=uniform:50-150`),
// read into a settings object for the core, with what could not be read named. The core checks
// what the values mean; this only reads their form.
import { shorten } from './client.js';

/** Settings from the page address, e.g. ?seed=42&nodes=5&conflict=lww&latency=uniform:50-150. */
export function settingsFromUrl(search) {
  const params = new URLSearchParams(search);
  const settings = {};
  const problems = [];
  let speed;
  for (const [name, raw] of params) {
    if (name === 'lesson' || name === 'step') continue; // the page's own (see boot)
    if (name === 'latency') {
      try {
        settings.latency = parseLatency(raw);
      } catch (err) {
        problems.push(err.message);
      }
    } else if (name === 'speed') {
      speed = Number(raw);
    } else if (raw === 'true' || raw === 'false') {
      settings[name] = raw === 'true';
    } else if (raw.trim() !== '' && !Number.isNaN(Number(raw))) {
      settings[name] = Number(raw);
    } else {
      settings[name] = raw;
    }
  }
  return { settings, speed, problems };
}

function parseLatency(raw) {
  const m = /^(constant|uniform|exponential):(\d+)(?:[-+](\d+))?$/.exec(raw.trim());
  if (!m) {
    throw new Error(`latency in the address must look like constant:100, uniform:50-150 or exponential:20+60, not "${shorten(raw, 40)}"`);
  }
  const [, kind, a, b] = m;
  if (kind === 'constant') return { kind, ms: Number(a) };
  if (b === undefined) throw new Error(`latency ${kind} needs two numbers, e.g. ${kind === 'uniform' ? 'uniform:50-150' : 'exponential:20+60'}`);
  return kind === 'uniform' ? { kind, minMs: Number(a), maxMs: Number(b) } : { kind, baseMs: Number(a), meanMs: Number(b) };
}
