// The Settings form: fills it from the simulation's settings, and reads it back as a partial
// settings object for configure(). Blank number fields are reported, never read as zero.

const NUMBER_FIELDS = {
  nodes: 'set-nodes',
  seed: 'set-seed',
  vnodes: 'set-vnodes',
  loss: 'set-loss',
  duplication: 'set-dup',
  requestTimeoutMs: 'set-timeout',
  hintIntervalMs: 'set-hint-ms',
  gossipFanout: 'set-fanout',
  gossipInterest: 'set-interest',
  gossipIntervalMs: 'set-gossip-ms',
  antiEntropyIntervalMs: 'set-ae-ms',
  tombstoneGraceMs: 'set-grace',
};
const SELECT_FIELDS = { readRepair: 'set-repair', hintedHandoff: 'set-handoff', antiEntropyKind: 'set-ae-kind' };
const RADIO_FIELDS = ['conflict', 'coordination', 'dissemination'];
// N, W and R take a word ("all", "quorum", "one") or a number.
const LEVEL_FIELDS = { replicationFactor: 'set-n', writeQuorum: 'set-w', readQuorum: 'set-r' };

export function fillSettings(doc, s) {
  const $ = (id) => doc.getElementById(id);
  for (const [name, id] of Object.entries(NUMBER_FIELDS)) $(id).value = String(s[name]);
  for (const [name, id] of Object.entries(SELECT_FIELDS)) $(id).value = s[name];
  for (const [name, id] of Object.entries(LEVEL_FIELDS)) $(id).value = String(s[name]);
  for (const name of RADIO_FIELDS) {
    for (const radio of doc.querySelectorAll(`input[name="${name}"]`)) radio.checked = radio.value === s[name];
  }
  $('set-latency').value = s.latency.kind;
  const [a, b] = s.latency.kind === 'constant' ? [s.latency.ms, ''] : s.latency.kind === 'uniform' ? [s.latency.minMs, s.latency.maxMs] : [s.latency.baseMs, s.latency.meanMs];
  $('set-lat-a').value = String(a);
  $('set-lat-b').value = String(b);
  $('set-ae').checked = s.antiEntropy;
  const skews = $('skews');
  const entries = Object.entries(s.clockSkewMs);
  if (skews.children.length !== entries.length) {
    skews.replaceChildren(...entries.map(([node]) => {
      const label = doc.createElement('label');
      label.textContent = `${node}: `;
      const input = doc.createElement('input');
      input.type = 'number';
      input.step = '10';
      input.dataset.node = node;
      input.setAttribute('aria-label', `Clock skew of node ${node} in milliseconds`);
      label.append(input);
      return label;
    }));
  }
  for (const input of skews.querySelectorAll('input')) input.value = String(s.clockSkewMs[input.dataset.node]);
}

/** The form as a partial settings object, or `{error, field}` if a field is blank. */
export function readSettings(doc, nodeCount) {
  const $ = (id) => doc.getElementById(id);
  const blank = [...$('settings-form').querySelectorAll('input[type="number"], input[list]')]
    .find((input) => !input.closest('[hidden]') && input.value.trim() === '');
  if (blank) {
    const name = blank.getAttribute('aria-label') ?? blank.closest('label')?.textContent.trim() ?? 'a field';
    return { error: `${name.replace(/\s+/g, ' ')} is empty: give a number.`, field: blank };
  }
  const partial = {};
  for (const [name, id] of Object.entries(NUMBER_FIELDS)) partial[name] = Number($(id).value);
  for (const [name, id] of Object.entries(SELECT_FIELDS)) partial[name] = $(id).value;
  for (const [name, id] of Object.entries(LEVEL_FIELDS)) partial[name] = wordOrNumber($(id).value);
  for (const name of RADIO_FIELDS) {
    const checked = doc.querySelector(`input[name="${name}"]:checked`);
    if (checked) partial[name] = checked.value;
  }
  const kind = $('set-latency').value;
  const a = Number($('set-lat-a').value);
  const b = Number($('set-lat-b').value);
  partial.latency = kind === 'constant' ? { kind, ms: a } : kind === 'uniform' ? { kind, minMs: a, maxMs: b } : { kind, baseMs: a, meanMs: b };
  partial.antiEntropy = $('set-ae').checked;
  // Skews name nodes of the current run; with a new node count they start at zero.
  if (partial.nodes === nodeCount) {
    partial.clockSkewMs = {};
    for (const input of $('skews').querySelectorAll('input')) partial.clockSkewMs[input.dataset.node] = Number(input.value);
  }
  return { partial };
}

function wordOrNumber(raw) {
  const t = raw.trim();
  return /^\d+$/.test(t) ? Number(t) : t.toLowerCase();
}
