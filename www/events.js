// The event log: every recorded event in order, filtered by node, kind and key, newest first.
// Clicking an event moves the whole page to the moment just after it; Export saves the events
// shown (all of them, not only the rows drawn) as JSON. The core filters (src/trace.rs), so a
// refresh moves only the rows drawn across the wasm boundary.

import { saveFile } from './session.js';

const ROWS = 120;

const MESSAGE_NAMES = {
  replicate: 'write',
  syncRequest: 'anti-entropy request',
  syncReply: 'anti-entropy reply',
  read: 'read',
  reply: 'ack / reply',
  repair: 'read repair',
  hint: 'hint',
};

const REASONS = { lost: 'lost on the way', linkCut: 'link cut', nodeDown: 'node down', queueFull: 'queue full' };

export class EventLog {
  /** `page` is all the log may do to the rest of the page: refresh() the panels at the next
   *  frame, seekEvent(position), and read core() for an export. */
  constructor(doc, page) {
    this.$ = (id) => doc.getElementById(id);
    this.doc = doc;
    this.page = page;
    this.nodeCount = 0;
    this.shownKey = '';
    this.selected = null;
  }

  attach(toast) {
    // Only a list someone can see is refilled: it is the costliest panel on a busy cluster.
    this.visible = true;
    new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      if (this.visible) this.page.refresh();
    }).observe(this.$('events-card'));
    const refresh = () => {
      this.shownKey = '';
      this.page.refresh();
    };
    this.$('ev-node').addEventListener('change', refresh);
    this.$('ev-kind').addEventListener('change', refresh);
    this.$('ev-key').addEventListener('input', refresh);
    this.$('events').addEventListener('click', (e) => {
      const row = e.target.closest('button[data-position]');
      if (row) this.page.seekEvent(Number(row.dataset.position));
    });
    this.$('ev-export').addEventListener('click', () => {
      try {
        const core = this.page.core();
        saveFile(core.eventsJson(this.filter()), `converge-events-seed${core.settings().seed}-to-${(core.now() / 1000).toFixed(1)}s.json`);
      } catch (err) {
        toast(err.message);
      }
    });
  }

  /** Marks event number `index` (from the diagram) and shows it in the list. */
  select(index) {
    this.selected = index;
    this.shownKey = '';
    this.page.refresh();
    this.scrollTo = index;
    this.$('events-card').scrollIntoView({ block: 'nearest' });
    this.visible = true;
  }

  /** The filter the controls describe, as the core takes it. */
  filter() {
    const node = this.$('ev-node').value;
    const kinds = this.$('ev-kind').value;
    const key = this.$('ev-key').value;
    return {
      node: node === '' ? undefined : Number(node),
      kinds: kinds === '' ? undefined : kinds.split(','),
      key: key === '' ? undefined : key,
    };
  }

  /** Refills the list (called with the panels, at most ten times a second). */
  update(core, nodeCount) {
    if (nodeCount !== this.nodeCount) this.fillNodes(nodeCount);
    if (!this.visible) return;
    const handled = core.eventsHandled();
    const filter = this.filter();
    // Nothing recorded, moved or refiltered since the last fill: the list stands.
    const key = `${handled}:${core.eventCount()}:${JSON.stringify(filter)}`;
    if (key === this.shownKey) return;
    this.shownKey = key;
    const log = core.eventLog(filter, ROWS);
    this.$('ev-count').textContent = log.matching === 0
      ? 'No recorded event matches.'
      : `${log.matching} event${log.matching === 1 ? '' : 's'} match${log.matching === 1 ? 'es' : ''}${log.matching > log.events.length ? `; the latest ${log.events.length} are shown` : ''}. Click one to see the moment after it.`;
    const rows = log.events.slice().reverse().map((e) => this.row(e, handled));
    this.$('events').replaceChildren(...rows);
    if (this.scrollTo !== undefined) {
      const row = this.$('events').querySelector(`button[data-index="${this.scrollTo}"]`);
      if (row) row.scrollIntoView({ block: 'nearest' });
      this.scrollTo = undefined;
    }
  }

  fillNodes(n) {
    this.nodeCount = n;
    const select = this.$('ev-node');
    const chosen = select.value;
    const options = [new Option('all', '')];
    for (let i = 1; i <= n; i++) options.push(new Option(`Node ${i}`, String(i)));
    select.replaceChildren(...options);
    select.value = Number(chosen) <= n ? chosen : '';
  }

  row(e, handled) {
    const li = this.doc.createElement('li');
    const button = this.doc.createElement('button');
    button.type = 'button';
    button.dataset.position = String(e.position);
    button.dataset.index = String(e.index);
    button.className = `event ev-${e.event}`;
    if (e.position === handled) button.classList.add('now');
    if (e.index === this.selected) button.classList.add('selected');
    const time = this.doc.createElement('span');
    time.className = 'ev-time';
    time.textContent = `${(e.time / 1000).toFixed(3)} s`;
    const kind = this.doc.createElement('span');
    kind.className = 'ev-kind';
    kind.textContent = e.event;
    const what = this.doc.createElement('span');
    what.className = 'ev-what';
    what.textContent = describe(e);
    button.append(time, kind, what);
    button.title = `Event ${e.index + 1}, after ${e.position} handled: click to see that moment`;
    li.append(button);
    return li;
  }
}

/** One line saying what happened, in words. */
export function describe(e) {
  // A message about one key names it: "1 → 2 write of name".
  const msg = (m) => `${MESSAGE_NAMES[m] ?? m}${e.key ? ` of ${e.key}` : ''}`;
  switch (e.event) {
    case 'write': return `${e.delete ? 'delete' : 'write'} ${e.key} at node ${e.node} (w${e.write})`;
    case 'read': return `read ${e.key} at node ${e.node} (request ${e.request})`;
    case 'answer': return `node ${e.node} answers request ${e.request}: ${e.status}`;
    case 'send': return `${e.from} → ${e.to} ${msg(e.message)}${e.versions ? ` (${e.versions} version${e.versions === 1 ? '' : 's'})` : ''}${e.duplicated ? ', duplicated' : ''}`;
    case 'deliver': return `${e.from} → ${e.to} ${msg(e.message)} arrives`;
    case 'drop': return `${e.from} → ${e.to} ${msg(e.message)} dropped: ${REASONS[e.reason] ?? e.reason}`;
    case 'timer': return `node ${e.node} starts an anti-entropy round`;
    case 'hint': return `node ${e.node} keeps w${e.write} for node ${e.owner}`;
    case 'collect': return `node ${e.node} collects the tombstone of w${e.write}`;
    case 'crash': return `node ${e.node} crashes`;
    case 'recover': return `node ${e.node} recovers${e.wipe ? ' with an empty store' : ''}`;
    case 'link': return `link ${e.from} → ${e.to} ${e.cut ? 'cut' : 'healed'}`;
    case 'configure': return 'settings changed';
    default: return '';
  }
}
