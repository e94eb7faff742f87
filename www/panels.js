// The panels filled from the views the loop hands over: the counters, the status line, the
// Replicas table, the latest requests and the latest writes. They only read what they are given
// and write into the page (user text through textContent or attributes, never as HTML).

import { clockText, shorten, tag, text, versionsText } from './client.js';

const STATUS_KEYS_SHOWN = 5;
// Above this many nodes the Replicas table keeps fixed column widths (see style.css).
const FIXED_TABLE_NODES = 8;

export class Panels {
  constructor(doc) {
    this.doc = doc;
    this.$ = (id) => doc.getElementById(id);
  }

  showCounters(s) {
    const el = this.$('counters');
    el.replaceChildren(
      text('sent '), bold(s.sent),
      text(' · delivered '), bold(s.delivered),
      text(' · dropped '), bold(s.dropped),
      text(s.dropped ? ` (lost ${s.droppedLost}, cut ${s.droppedCut}, down ${s.droppedDown})` : ''),
      text(' · duplicated '), bold(s.duplicated),
      text(' · in flight '), bold(s.inFlight),
    );
  }

  showStatus(keys, divergent, stats, nodes) {
    const el = this.$('status');
    const down = nodes.filter((n) => !n.up).length;
    const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    const lost = (stats.lostWrites > 0 ? ` · ${plural(stats.lostWrites, 'write', 'writes')} lost` : '')
      + (stats.resurrections > 0 ? ` · ${plural(stats.resurrections, 'deleted value', 'deleted values')} came back` : '')
      + (stats.sessionViolations > 0 ? ` · ${plural(stats.sessionViolations, 'read', 'reads')} broke a session guarantee` : '');
    const downNote = down > 0 ? ` (${down} node${down === 1 ? '' : 's'} down)` : '';
    let text;
    if (divergent.length === 0) {
      text = keys.length === 0
        ? 'Converged: nothing written yet. Write a key to start.'
        : `Converged: every live replica holds the same version of every key${stats.inFlight > 0 ? ', for now (messages in flight)' : ''}${downNote}${lost}`;
    } else {
      const shown = divergent.slice(0, STATUS_KEYS_SHOWN).map((k) => `“${shorten(k, 40)}”`).join(', ');
      const more = divergent.length > STATUS_KEYS_SHOWN ? ` and ${divergent.length - STATUS_KEYS_SHOWN} more` : '';
      // How many messages fly is counted below: the status changes only when convergence does,
      // so that a screen reader announces it without chatter.
      const wait = stats.inFlight > 0 ? ', messages in flight' : '';
      text = `Diverged: replicas differ on ${shown}${more}${wait}${downNote}${lost}`;
    }
    el.className = divergent.length === 0 ? 'status ok' : 'status diverged';
    if (el.textContent !== text) el.textContent = text;
  }

  /** The Replicas table: a row per key, a column per node. Cells are updated in place, so a
   *  refresh of a large cluster only touches what changed. */
  fillReplicas(nodes, keys, selectedKey) {
    const table = this.$('replicas');
    if (keys.length === 0) {
      table.replaceChildren(caption('No keys yet.'));
      return;
    }
    let thead = table.tHead;
    let tbody = table.tBodies[0];
    if (!thead || !tbody) {
      thead = this.doc.createElement('thead');
      tbody = this.doc.createElement('tbody');
      table.replaceChildren(this.doc.createElement('colgroup'), thead, tbody);
    }
    const cols = table.querySelector('colgroup');
    if (cols.children.length !== nodes.length + 1) {
      cols.replaceChildren(...Array.from({ length: nodes.length + 1 }, (_, i) => {
        const col = this.doc.createElement('col');
        col.className = i === 0 ? 'key' : 'node';
        return col;
      }));
      table.classList.toggle('fixed', nodes.length > FIXED_TABLE_NODES);
      table.style.setProperty('--nodes', String(nodes.length));
    }
    const head = ensureRow(thead, 0, nodes.length + 1, 'th');
    setCell(head.cells[0], 'key', 'key', '');
    nodes.forEach((node, i) => {
      const hints = node.hints.length > 0 ? ` ◆${node.hints.length}` : '';
      const title = `Node ${node.id}${node.up ? '' : ' (down)'}${hints ? `, keeping ${node.hints.length} hint(s) for other nodes` : ''}`;
      setCell(head.cells[i + 1], `${node.id}${node.up ? '' : ' ✕'}${hints}`, title, node.up ? '' : 'down');
    });
    keys.forEach((k, r) => {
      const row = ensureRow(tbody, r, k.replicas.length + 1, 'td', true);
      const state = k.converged ? 'every live replica agrees' : 'replicas differ';
      const place = `on ${k.preferenceList.map((n) => `n${n}`).join(', ')}`;
      const status = `${k.converged ? 'converged' : 'diverged'}${k.key === selectedKey ? ' selected' : ''}`;
      setCell(row.cells[0], k.key, `${k.key}: ${state}; ${place}${k.siblings ? '; siblings' : ''}`, status);
      row.cells[0].dataset.key = k.key;
      k.replicas.forEach((cell, i) => {
        const down = cell.up ? '' : ' down';
        if (!cell.replica) {
          setCell(row.cells[i + 1], '·', `Node ${cell.node} is not a replica of ${k.key}`, `not-replica${down}`);
        } else if (cell.versions.length === 0 && !cell.stale) {
          // Deleted, and its tombstone collected here: nothing left, as it should be.
          setCell(row.cells[i + 1], '⊘ collected', `Node ${cell.node} collected the delete of ${k.key}`, `missing${down}`);
        } else if (cell.versions.length === 0) {
          setCell(row.cells[i + 1], 'missing', `Node ${cell.node} does not hold ${k.key}`, `missing stale${down}`);
        } else {
          const shown = versionsText(cell.versions, cell.merged);
          const detail = cell.versions.map((v) => `${v.value === null ? 'deleted' : v.value} (w${v.write} ${clockText(v.clock)})`).join(' | ');
          const title = `Node ${cell.node}: ${detail}${cell.stale ? ', not the newest write' : ''}`;
          const classes = `${cell.stale ? 'stale' : ''}${cell.versions.length > 1 && cell.merged == null ? ' siblings' : ''}${down}`;
          setCell(row.cells[i + 1], shown, title, classes.trim());
        }
      });
    });
    while (tbody.rows.length > keys.length) tbody.deleteRow(-1);
  }

  /** The latest requests: what each asked, how it ended, how long it took. */
  fillRequests(requests, settings) {
    const list = this.$('requests');
    if (requests.length === 0) {
      list.replaceChildren(emptyItem('No requests yet.'));
      return;
    }
    // Without coordination a request is answered by its node at once: no acks to count.
    const coordinated = settings.coordination === 'quorum';
    fitNumbers(list, requests.at(-1).id);
    syncList(list, requests.slice().reverse(), (r) => `${r.id}`, (r) => `${coordinated}${JSON.stringify(r)}`, (r) => {
      const li = this.doc.createElement('li');
      li.value = r.id;
      const what = this.doc.createElement('span');
      what.className = 'what';
      what.textContent = `${r.kind} ${shorten(r.key, 30)}`;
      const labels = { pending: ['pending', 'waiting'], ok: ['fresh', 'ok'], unavailable: ['lost', 'unavailable'], timedOut: ['lost', 'timed out'], refused: ['lost', 'refused: too many siblings'] };
      const [kind, label] = labels[r.status];
      const unit = r.kind === 'read' ? 'replies' : 'acks';
      const latency = r.latencyMs === null ? '' : ` in ${r.latencyMs} ms`;
      const when = this.doc.createElement('span');
      when.className = 'when';
      when.textContent = r.status === 'refused' ? ` at node ${r.node}, which would have held ${r.got} siblings` : coordinated ? ` via node ${r.node} · ${r.got}/${r.needed} ${unit}${latency}` : ` at node ${r.node}, answered at once`;
      li.append(tag(kind, label), what, when);
      if (r.kind === 'read' && r.status === 'ok') {
        const got = r.versions.length === 0 ? 'nothing' : versionsText(r.versions, r.merged);
        li.append(text(` → ${shorten(got, 40)}`));
        if (r.stale) li.append(text(' '), tag('stale', `stale, behind ${r.behind}`));
        for (const broken of r.violations) li.append(text(' '), tag('warn', broken));
      }
      return li;
    });
  }

  /** The latest writes: acknowledged when, reached which replica when, everywhere when. */
  fillWrites(writes, stats) {
    // A long run forgets the records of its oldest writes (memory stays flat): say so.
    const note = this.$('writes-forgotten');
    const said = stats.writesForgotten === 0 ? '' : `The first ${stats.writesForgotten} writes were forgotten to keep memory flat: the figures still count them (the lost ones among them were judged as they were forgotten), but they are no longer listed or followed.`;
    if (note.textContent !== said) {
      note.textContent = said;
      note.hidden = said === '';
    }
    const list = this.$('writes');
    if (writes.length === 0) {
      list.replaceChildren(emptyItem('No writes yet.'));
      return;
    }
    const open = new Set([...list.querySelectorAll('details[open]')].map((d) => d.dataset.write));
    fitNumbers(list, writes.at(-1).id);
    syncList(list, writes.slice().reverse(), (w) => `${w.id}`, (w) => JSON.stringify(w), (w) => {
      const li = this.doc.createElement('li');
      li.value = w.id;
      const details = this.doc.createElement('details');
      details.dataset.write = String(w.id);
      details.open = open.has(String(w.id));
      const summary = this.doc.createElement('summary');
      const what = this.doc.createElement('span');
      what.className = 'what';
      what.textContent = w.value === null ? `delete ${shorten(w.key, 30)}` : `${shorten(w.key, 30)} = ${shorten(w.value, 30)}`;
      const when = this.doc.createElement('span');
      when.className = 'when';
      let status;
      if (w.lost) status = 'acknowledged, then overwritten everywhere by a write that never saw it';
      else if (w.status === 'unavailable' || w.status === 'refused') status = 'nothing was written';
      else if (w.allAfterMs !== null) status = `at all ${w.reached} replicas after ${w.allAfterMs} ms`;
      else if (w.allLiveAfterMs !== null) status = `at every live replica after ${w.allLiveAfterMs} ms`;
      else status = `at ${w.reached} replica${w.reached === 1 ? '' : 's'} so far`;
      const ack = { pending: 'waiting for acks', acknowledged: w.ackedAfterMs > 0 ? `acked after ${w.ackedAfterMs} ms` : 'acked at once', sent: 'sent on, not stored by its node', unavailable: 'unavailable', timedOut: 'timed out', refused: 'refused: too many siblings' }[w.status];
      when.textContent = ` via node ${w.node}, t=${(w.issuedAt / 1000).toFixed(3)} s · ${ack} · ${status}`;
      summary.append(what, when);
      if (w.lost) summary.prepend(tag('lost', 'LOST'));
      const arrivals = this.doc.createElement('div');
      arrivals.className = 'arrivals';
      arrivals.textContent = w.arrivals.length === 0
        ? `Clock ${clockText(w.clock)}; no replica has it yet.`
        : `Clock ${clockText(w.clock)}; reached ${w.arrivals.map((a) => `n${a.node} +${a.afterMs} ms`).join(', ')}`;
      details.append(summary, arrivals);
      li.append(details);
      return li;
    });
  }
}

function bold(s) {
  const b = document.createElement('b');
  b.textContent = String(s);
  return b;
}

/** Row `index` of `section` with exactly `cells` cells (the first a row header if `rowHeader`). */
function ensureRow(section, index, cells, tag, rowHeader = false) {
  const row = section.rows[index] ?? section.appendChild(document.createElement('tr'));
  while (row.cells.length > cells) row.deleteCell(-1);
  while (row.cells.length < cells) {
    const first = row.cells.length === 0;
    const cell = document.createElement(first && rowHeader ? 'th' : tag);
    if (cell.tagName === 'TH') cell.scope = first && rowHeader ? 'row' : 'col';
    row.appendChild(cell);
  }
  return row;
}

/** Makes room in a numbered list for its largest number (a long run reaches 21,600 and more). */
function fitNumbers(list, largest) {
  const digits = String(Math.max(100, largest)).length;
  if (list.style.getPropertyValue('--digits') !== String(digits)) list.style.setProperty('--digits', String(digits));
}

function syncList(list, entries, keyOf, signatureOf, build) {
  const old = new Map();
  for (const li of list.children) if (li.dataset.key !== undefined) old.set(li.dataset.key, li);
  const items = entries.map((entry) => {
    const key = keyOf(entry);
    const signature = signatureOf(entry);
    const kept = old.get(key);
    if (kept && kept.dataset.signature === signature) return kept;
    const li = build(entry);
    li.dataset.key = key;
    li.dataset.signature = signature;
    return li;
  });
  const wanted = new Set(items);
  for (const li of [...list.children]) if (!wanted.has(li)) li.remove();
  items.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
}

/** Sets a cell's text, tooltip and classes, touching the DOM only where they changed. */
function setCell(cell, text, title, className) {
  if (cell.textContent !== text) cell.textContent = text;
  if (cell.title !== title) cell.title = title;
  if (cell.className !== className) cell.className = className;
}

function emptyItem(message) {
  const li = document.createElement('li');
  li.className = 'none';
  li.textContent = message;
  return li;
}

function caption(message) {
  const c = document.createElement('caption');
  c.className = 'empty';
  c.textContent = message;
  return c;
}
