// Side by side: the run beside a twin of it with one setting changed (W = 1 against W = all, last
// writer wins against version vectors), in lock step. The twin is a second simulation that the
// core keeps following this one (src/compare.rs): every action given here is given there at the
// same virtual time, and it shows the same moment, through time travel too. Its drawing sits
// beside the cluster's; a table under both compares what matters: convergence, lost writes,
// stale reads, failed requests, messages.

import { ClusterView } from './draw.js';
import { setModal } from './dialog.js';

/** Settings worth comparing, with the values to suggest (the README lists them all). */
export const COMPARABLE = [
  { name: 'conflict', label: 'conflicts', values: ['arrival', 'lww', 'vv', 'orset', 'counter'] },
  { name: 'writeQuorum', label: 'W (write quorum)', values: ['one', 'quorum', 'all', '1', '2', '3'] },
  { name: 'readQuorum', label: 'R (read quorum)', values: ['one', 'quorum', 'all', '1', '2', '3'] },
  { name: 'coordination', label: 'requests', values: ['none', 'quorum'] },
  { name: 'replicationFactor', label: 'N (replicas per key)', values: ['all', '1', '2', '3', '5'] },
  { name: 'readRepair', label: 'read repair', values: ['off', 'async', 'blocking'] },
  { name: 'hintedHandoff', label: 'hinted handoff', values: ['off', 'sloppy', 'strict'] },
  { name: 'antiEntropy', label: 'anti-entropy', values: ['true', 'false'] },
  { name: 'antiEntropyKind', label: 'anti-entropy by', values: ['full', 'merkle'] },
  { name: 'dissemination', label: 'spreading writes', values: ['broadcast', 'gossip'] },
  { name: 'loss', label: 'message loss', values: ['0', '0.1', '0.3'] },
  { name: 'tombstoneGraceMs', label: 'tombstones kept (ms)', values: ['1000', '10000', '60000'] },
  { name: 'seed', label: 'seed', values: ['1', '2', '42'] },
];

/** A value typed in the form, as the setting takes it: true/false, a number, or text. */
export function parseValue(raw) {
  const text = raw.trim();
  if (text === 'true' || text === 'false') return text === 'true';
  if (text !== '' && !Number.isNaN(Number(text))) return Number(text);
  return text;
}

/** `{writeQuorum: 'all'}` as people read it: "W (write quorum) = all". */
export function describeChange(change) {
  return Object.entries(change).map(([name, value]) => {
    const known = COMPARABLE.find((c) => c.name === name);
    return `${known ? known.label : name} = ${typeof value === 'object' ? JSON.stringify(value) : value}`;
  }).join(', ');
}

const ROWS = [
  { label: 'Converged', value: (s) => (s.converged ? 'yes' : 'no'), key: (s) => (s.converged ? 0 : 1), worse: 'more', why: 'not converged, unlike the other run' },
  { label: 'Keys diverging', value: (s) => s.divergent, worse: 'more' },
  { label: 'Lost writes', value: (s) => s.stats.lostWrites, worse: 'more' },
  { label: 'Stale reads', value: (s) => `${s.stats.staleReads} of ${s.stats.reads}`, key: (s) => s.stats.staleReads, worse: 'more' },
  { label: 'Failed requests', value: (s) => s.stats.unavailable + s.stats.timedOut + s.stats.refused, worse: 'more' },
  { label: 'Siblings kept', value: (s) => s.siblings },
  { label: 'Messages sent', value: (s) => s.stats.sent },
  { label: 'Bytes sent', value: (s) => s.stats.bytesSent },
];

function summary(core) {
  const keys = core.keys(0);
  return {
    converged: core.converged(),
    divergent: core.divergentKeys().length,
    siblings: keys.filter((k) => k.siblings).length,
    stats: core.stats(),
  };
}

/** The height the run labels ("A · this run") take at the bottom of each stage, in CSS pixels. */
const LABEL_INSET = 28;

export class Comparison {
  constructor(doc, getApp, Simulation) {
    this.doc = doc;
    this.$ = (id) => doc.getElementById(id);
    this.getApp = getApp;
    this.Simulation = Simulation;
    this.twin = null;
    this.view = null;
    this.change = null;
  }

  get app() {
    return this.getApp();
  }

  attach(toast) {
    this.toast = toast;
    const $ = this.$;
    const select = $('compare-setting');
    for (const c of COMPARABLE) {
      const option = this.doc.createElement('option');
      option.value = c.name;
      option.textContent = c.label;
      select.append(option);
    }
    select.addEventListener('change', () => this.suggest());
    $('compare').addEventListener('click', () => this.showForm(true));
    $('compare-cancel').addEventListener('click', () => this.showForm(false));
    $('compare-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const name = select.value;
      try {
        this.start({ [name]: parseValue($('compare-value').value) });
        this.showForm(false);
      } catch (err) {
        $('compare-error').textContent = err.message;
      }
    });
    $('compare-stop').addEventListener('click', () => this.stop());
    new ResizeObserver(() => this.view?.resize()).observe($('twin-wrap'));
  }

  showForm(on) {
    setModal(this.$('compare-box'), on);
    this.$('compare-error').textContent = '';
    if (on) {
      this.suggest();
      this.$('compare-setting').focus();
    }
  }

  /** Offers values for the chosen setting, and one that differs from this run's. */
  suggest() {
    const name = this.$('compare-setting').value;
    const known = COMPARABLE.find((c) => c.name === name);
    const list = this.$('compare-values');
    list.replaceChildren(...known.values.map((v) => {
      const option = this.doc.createElement('option');
      option.value = v;
      return option;
    }));
    const current = String(this.app.core.settings()[name]);
    this.$('compare-current').textContent = `this run: ${current}`;
    this.$('compare-value').value = known.values.find((v) => v !== current) ?? '';
  }

  /** Starts comparing with a twin whose settings differ by `change`; throws if it cannot be made. */
  start(change) {
    if (change === null || typeof change !== 'object' || Array.isArray(change) || Object.keys(change).length === 0) {
      throw new Error('compare takes a change of settings such as { writeQuorum: "all" }');
    }
    const twin = this.Simulation.twinOf(this.app.core, change);
    this.stop();
    this.twin = twin;
    this.change = twin.twinChange();
    this.doc.body.classList.add('comparing');
    this.$('twin-wrap').hidden = false;
    this.$('compare-bar').hidden = false;
    this.$('label-a').hidden = false;
    this.$('label-b').textContent = `B · ${describeChange(this.change)}`;
    this.$('compare').setAttribute('aria-pressed', 'true');
    this.view = new ClusterView(this.$('twin'));
    // Each side's label sits at the bottom of its stage: nodes and cards keep clear of it.
    this.view.bottomInset = LABEL_INSET;
    this.app.view.bottomInset = LABEL_INSET;
    this.view.setZoom(this.app.view.zoom);
    this.app.view.resize();
    this.app.forceRefresh = true;
  }

  /** Presenter mode: the twin's drawing as large as the cluster's. */
  setZoom(zoom) {
    this.view?.setZoom(zoom);
  }

  stop() {
    if (!this.twin) return;
    this.twin.free();
    this.twin = null;
    this.view = null;
    this.change = null;
    this.doc.body.classList.remove('comparing');
    this.$('twin-wrap').hidden = true;
    this.$('compare-bar').hidden = true;
    this.$('label-a').hidden = true;
    this.$('compare').setAttribute('aria-pressed', 'false');
    this.app.view.bottomInset = 0;
    this.app.view.resize();
    this.app.forceRefresh = true;
  }

  /** Each frame, after the run moved: the twin catches up and is drawn. */
  frame(core, vt, realNow) {
    if (!this.twin) return;
    try {
      this.twin.follow(core);
    } catch (err) {
      this.stop();
      this.toast(`Side by side stopped: ${err.message}`);
      return;
    }
    this.view.addDrops(this.twin.drainDrops(), realNow);
    // The view into wasm memory is read at once, before any other call.
    this.view.render(this.twin.flights(vt), realNow);
  }

  /** After a jump in time: the twin's drops from its replay are not news. */
  travelled() {
    if (!this.twin) return;
    try {
      this.twin.follow(this.app.core);
    } catch {
      return; // the next frame says why
    }
    this.twin.drainDrops();
    this.view.clearDrops();
  }

  /** Whether the twin changed since the panels last showed it. */
  stale() {
    return this.twin !== null && this.twin.changes() !== this.seenChanges;
  }

  /** With the panels' refresh: the twin's drawing state and the table. */
  refresh(core, readState) {
    if (!this.twin) return;
    this.seenChanges = this.twin.changes();
    this.view.setState(readState(this.twin));
    const a = summary(core);
    const b = summary(this.twin);
    const rows = ROWS.map((row) => {
      const tr = this.doc.createElement('tr');
      const th = this.doc.createElement('th');
      th.scope = 'row';
      th.textContent = row.label;
      const [va, vb] = [row.value(a), row.value(b)];
      const [ka, kb] = row.key ? [row.key(a), row.key(b)] : [va, vb];
      const cells = [va, vb].map((v) => {
        const td = this.doc.createElement('td');
        td.textContent = String(v);
        return td;
      });
      if (ka !== kb) {
        // Different: the cell of the run that does worse (where that is clear) says so with a
        // sign and a tooltip, not only a colour.
        tr.className = 'differs';
        if (row.worse === 'more' && typeof ka === 'number') {
          const worse = ka > kb ? cells[0] : cells[1];
          worse.classList.add('worse');
          worse.append(' ▲');
          worse.title = row.why ?? 'more than the other run';
        }
      }
      tr.append(th, ...cells);
      return tr;
    });
    this.$('compare-table-body').replaceChildren(...rows);
    const skipped = this.twin.twinSkipped();
    const note = this.$('compare-skipped');
    note.hidden = skipped.length === 0;
    note.textContent = skipped.length === 0 ? '' : `B skipped ${skipped.length} action${skipped.length === 1 ? '' : 's'}: ${skipped.slice(-3).join('; ')}`;
  }

  /** The comparison now, for the console: `{change, a, b, skipped}` or null. */
  describe() {
    if (!this.twin) return null;
    return { change: this.change, a: summary(this.app.core), b: summary(this.twin), skipped: this.twin.twinSkipped() };
  }
}
