// The Client panel: writes, reads and deletes through a node, as requests whose outcome shows
// as soon as the coordinator answers; siblings a read returns, and resolving them with the
// context it returned (Riak). User text goes into the page as text only.

import { versionsText } from './draw.js';

export class ClientPanel {
  constructor(controls) {
    this.controls = controls;
    this.$ = controls.$;
    this.watching = null; // { id, key, node, value }
    this.lastRead = null; // { key, node, context, versions }
  }

  get core() {
    return this.controls.core;
  }

  attach() {
    const $ = this.$;
    $('client-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.write();
    });
    $('read').addEventListener('click', () => this.read());
    $('delete').addEventListener('click', () => this.write({ remove: true }));
    $('client-key').addEventListener('input', () => {
      $('client-context').checked = false;
    });
    $('resolve-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.resolve();
    });
  }

  form() {
    const $ = this.$;
    const session = $('client-session').value.trim();
    return {
      node: Number($('client-node').value),
      key: $('client-key').value,
      value: $('client-value').value,
      session: session === '' ? undefined : session,
    };
  }

  /** Writes (or deletes) through the chosen node, with the read context if asked. */
  write({ remove = false } = {}) {
    const { node, key, value, session } = this.form();
    const options = { session };
    if (this.$('client-context').checked && this.lastRead && this.lastRead.key === key) {
      options.context = this.lastRead.context;
    }
    const out = this.$('client-result');
    const result = this.controls.act((core) => (remove ? core.delete(node, key, options) : core.write(node, key, value, options)), out);
    if (!result) return;
    this.$('resolve-form').hidden = true;
    this.watching = { id: result.request, node, value, applied: result.applied, stampMs: result.stampMs, messages: result.messages };
    this.show();
  }

  read() {
    const { node, key, session } = this.form();
    const out = this.$('client-result');
    const result = this.controls.act((core) => core.read(node, key, { session }), out);
    if (!result) return;
    this.$('resolve-form').hidden = true;
    this.watching = { id: result.id, node };
    this.show();
  }

  /** Writes the chosen sibling, or the merge typed, with the context the read returned. */
  resolve() {
    const read = this.lastRead;
    if (!read) return;
    const typed = this.$('resolve-value').value;
    const value = typed !== '' ? typed : this.$('resolve-pick').value;
    const { session } = this.form();
    const out = this.$('client-result');
    const result = this.controls.act((core) => core.write(read.node, read.key, value, { session, context: read.context }), out);
    if (!result) return;
    this.$('resolve-form').hidden = true;
    this.$('resolve-value').value = '';
    this.watching = { id: result.request, node: read.node, value, applied: result.applied, stampMs: result.stampMs, messages: result.messages };
    this.show();
  }

  /** Called on every refresh: a pending request shows its outcome when it comes. */
  update() {
    this.showMode(this.core.settings().conflict);
    if (this.watching) this.show();
  }

  /** Under a data type, says what a write means: an operation, not a value. */
  showMode(conflict) {
    if (conflict === this.mode) return;
    this.mode = conflict;
    const hint = this.$('crdt-hint');
    const text = {
      orset: 'Every key is a set: write +milk to add milk, -milk to remove it; Delete empties the set. Replicas merge by themselves (add wins).',
      counter: 'Every key is a counter: write +3 or -2. Replicas merge by themselves: each node keeps its own totals, and a read adds them up.',
    }[conflict];
    hint.hidden = text === undefined;
    hint.textContent = text ?? '';
    // A data type's coordinator takes the context from its own state: the client sends none.
    this.$('client-context-label').hidden = text !== undefined;
    if (text !== undefined) this.$('client-context').checked = false;
  }

  show() {
    const view = this.core.request(this.watching.id);
    if (!view) return;
    const out = this.$('client-result');
    const lines = view.kind === 'read' ? this.readLines(view) : this.writeLines(view);
    out.classList.remove('error');
    out.replaceChildren(...lines);
    if (view.status !== 'pending') {
      if (view.kind === 'read' && view.status === 'ok') this.readDone(view);
      this.watching = null;
    }
  }

  /** A write's outcome: its number tagged with how it went, then what happened. */
  writeLines(view) {
    const w = this.watching;
    const what = view.kind === 'delete' ? `delete ${shorten(view.key, 60)}` : `${shorten(view.key, 60)} = ${shorten(w.value ?? '', 80)}`;
    const kind = { pending: 'pending', ok: 'fresh', unavailable: 'lost', timedOut: 'lost', refused: 'lost' }[view.status];
    const coordinated = this.core.settings().coordination === 'quorum';
    let how;
    if (view.status === 'refused') {
      how = ` through node ${view.node}: ${outcomeText(view, 'acks')}`;
    } else if (!coordinated) {
      // The tutorial's answer: applied here (if this node is a replica), sent on to the others.
      const here = view.got > 0 ? `applied at node ${view.node}` : `node ${view.node} is not a replica of it`;
      const to = view.got > 0 ? 'peer' : 'replica';
      how = ` ${here}, sent to ${w.messages} ${to}${w.messages === 1 ? '' : 's'}`;
    } else {
      how = ` through node ${view.node}: ${outcomeText(view, 'acks')}`;
    }
    const lines = [line(tag(kind, `w${view.write}`), text(what), text(how))];
    if (view.status === 'ok' && w.applied === false && view.got > 0 && !coordinated) {
      lines.push(line(tag('lost', 'lost'), text(`node ${view.node} keeps a version with a later timestamp (its clock read ${w.stampMs} ms): this write lost at once.`)));
    }
    return lines;
  }

  /** A read's outcome: tagged fresh, stale, not found, waiting or failed; then what came back. */
  readLines(view) {
    const key = shorten(view.key, 60);
    const coordinated = this.core.settings().coordination === 'quorum';
    const where = coordinated ? `via node ${view.node} (${outcomeText(view, 'replies')}): ` : `node ${view.node}: `;
    if (view.status !== 'ok') {
      const kind = view.status === 'pending' ? 'pending' : 'lost';
      const label = { pending: 'waiting', unavailable: 'unavailable', timedOut: 'timed out' }[view.status];
      return [line(tag(kind, label), text(`read ${key} ${where}`))];
    }
    const never = view.versions.length === 0 && view.latest === null;
    const label = never ? 'not found' : view.stale ? 'stale' : 'fresh';
    const parts = [tag(never ? 'none' : label, label), text(where)];
    if (view.versions.length === 0) {
      parts.push(text(`${key} is not there${never ? ' (never written)' : ''}`));
    } else if (view.merged != null) {
      const versions = `${view.versions.length} version${view.versions.length === 1 ? '' : 's'}`;
      parts.push(text(`${key} = ${shorten(view.merged, 80)} (from ${versions}, merged by the data type)`));
    } else if (view.versions.length === 1) {
      const v = view.versions[0];
      parts.push(text(v.value === null ? `${key} is deleted (w${v.write})` : `${key} = ${shorten(v.value, 80)} (w${v.write})`), vector(v.clock));
    } else {
      const siblings = document.createElement('span');
      siblings.className = 'siblings';
      siblings.textContent = `${key} has ${view.versions.length} siblings: `;
      parts.push(siblings);
      view.versions.forEach((v, i) => {
        if (i > 0) parts.push(text(' | '));
        parts.push(text(`${v.value === null ? '⊘' : shorten(v.value, 40)} (w${v.write})`), vector(v.clock));
      });
    }
    if (view.stale && view.latest && view.versions.some((v) => v.write === view.latest.id)) {
      // Version vectors: it got the newest write, but not a sibling acknowledged elsewhere.
      const missed = view.behind === 1 ? 'an acknowledged write' : `${view.behind} acknowledged writes`;
      parts.push(text(`; it misses ${missed} that another replica holds beside the newest (a sibling it did not see)`));
    } else if (view.stale && view.latest) {
      const lost = view.latest.lost ? ', since lost' : '';
      const newest = writeText(view.latest.value, key, this.core.settings().conflict);
      const behind = view.behind > 1 ? `, ${view.behind} acknowledged writes behind` : '';
      parts.push(text(`; the newest write is ${newest} (w${view.latest.id} at node ${view.latest.node}${lost})${behind}`));
    }
    const lines = [line(...parts)];
    for (const broken of view.violations) {
      lines.push(line(tag('warn', 'session'), text(`this read breaks ${broken.replace(/-/g, ' ')} for “${shorten(view.session ?? '', 30)}”`)));
    }
    return lines;
  }

  /** Remembers the read's context for the next write; offers to resolve siblings. */
  readDone(view) {
    this.lastRead = { key: view.key, node: view.node, context: view.context, versions: view.versions };
    this.$('client-context').checked = true;
    const siblings = view.versions.length > 1;
    this.$('resolve-form').hidden = !siblings;
    if (siblings) {
      this.$('resolve-pick').replaceChildren(
        ...view.versions.map((v) => {
          const o = document.createElement('option');
          o.value = v.value ?? '';
          o.textContent = v.value === null ? '⊘ (the delete)' : shorten(v.value, 40);
          return o;
        }),
      );
    }
  }
}

/** "ok after 120 ms, 2 of 2 acks" and the like. */
function outcomeText(view, what) {
  const counted = `${view.got} of ${view.needed} ${what}`;
  switch (view.status) {
    case 'pending':
      return `waiting, ${counted}`;
    case 'ok':
      return view.latencyMs > 0 ? `ok after ${view.latencyMs} ms, ${counted}` : `ok at once, ${counted}`;
    case 'unavailable':
      return `unavailable: only ${view.got} of the ${view.needed} replicas needed were reachable, so nothing was sent`;
    case 'refused':
      // The most siblings a key may have: MAX_SIBLINGS in crates/replica/src/replica/mod.rs (Riak's default).
      return `refused: the key would have had ${view.got} siblings, and a key may have at most 100 (as in Riak), so nothing was written. Read it and write with the context you read (or Resolve) to merge them; a set (one version an element) must lose elements first.`;
    default:
      return `timed out after ${view.latencyMs} ms with ${counted}`;
  }
}

/** A write as a sentence's object: `name = Alice`, `a delete of name`, or an operation (`+milk on cart`). */
function writeText(value, key, conflict) {
  const shown = value === null ? null : shorten(value, 80);
  if (conflict === 'orset') return shown === null ? `a removal from ${key}` : `+${shown} on ${key}`;
  if (conflict === 'counter') return `${shown} on ${key}`;
  return shown === null ? `a delete of ${key}` : `${key} = ${shown}`;
}

function line(...parts) {
  const span = document.createElement('span');
  span.className = 'line';
  span.append(...parts);
  return span;
}

function vector(clock) {
  const span = document.createElement('span');
  span.className = 'vector';
  span.textContent = ` ${clockText(clock)}`;
  return span;
}

/**
 * A clock as the core prints it: `{n1:2, n3:+5}`. A node's entry is a counter (its writes 1 to
 * that one), or `[counter, dots...]` for writes seen beyond a gap, shown `+5`.
 */
export function clockText(clock) {
  const entries = Object.entries(clock).map(([n, c]) => {
    if (!Array.isArray(c)) return `n${n}:${c}`;
    const [upTo, ...beyond] = c;
    return `n${n}:${upTo > 0 ? upTo : ''}${beyond.map((d) => `+${d}`).join('')}`;
  });
  return `{${entries.join(', ')}}`;
}

export function shorten(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function text(s) {
  return document.createTextNode(String(s));
}

export function tag(kind, label) {
  const span = document.createElement('span');
  span.className = `tag ${kind}`;
  span.textContent = label;
  return span;
}

export { versionsText };
