// The page's visual vocabulary: its colours (Okabe-Ito, safe for colour-blind viewers), its
// font, and the colour and shape of each kind of message, shared by the cluster, its twin, the
// ring, the space-time diagram and the plots.
import { KIND_NAME } from './layout.js';

// Shapes carry the same meaning as colours.
export const COLOURS = {
  ink: '#14181f',
  muted: '#5a6270',
  link: '#c3c8d1',
  node: '#ffffff',
  nodeBorder: '#14181f',
  down: '#e3e5e9',
  downBorder: '#7a818c',
  replicate: '#0072b2',
  sync: '#e69f00',
  read: '#56b4e9',
  reply: '#009e73',
  repair: '#f0e442',
  repairEdge: '#7a6a00',
  hint: '#cc79a7',
  drop: '#d55e00',
  cut: '#d55e00',
  stale: '#fff1c2',
  staleInk: '#7a4a00',
  card: '#f7f8fa',
  cardBorder: '#d5d9e0',
};

// Message kinds by the core's names for them (its layout gives their codes), with a colour and
// a shape each: colour is never the only sign of what a message is.
export const MESSAGE_STYLES = [
  { kind: 'replicate', name: 'write', colour: COLOURS.replicate, shape: 'circle' },
  { kind: 'syncRequest', name: 'anti-entropy', colour: COLOURS.sync, shape: 'diamond' },
  { kind: 'syncReply', name: 'anti-entropy reply', colour: COLOURS.sync, shape: 'square' },
  { kind: 'read', name: 'read', colour: COLOURS.read, shape: 'triangle' },
  { kind: 'reply', name: 'ack / reply', colour: COLOURS.reply, shape: 'small' },
  { kind: 'repair', name: 'read repair', colour: COLOURS.repair, shape: 'ring' },
  { kind: 'hint', name: 'hinted handoff', colour: COLOURS.hint, shape: 'diamond' },
];

/** The style of a message of kind `code` (a code of the core's layout). */
export function messageStyle(code) {
  return STYLE_BY_KIND[KIND_NAME[code]] ?? MESSAGE_STYLES[0];
}

const STYLE_BY_KIND = Object.fromEntries(MESSAGE_STYLES.map((style) => [style.kind, style]));

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** Adds one message's outline to the current path (also the diagram's event marks). */
export function traceShape(ctx, shape, x, y, r) {
  switch (shape) {
    case 'circle':
    case 'ring':
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      break;
    case 'small':
      ctx.moveTo(x + r * 0.7, y);
      ctx.arc(x, y, r * 0.7, 0, 2 * Math.PI);
      break;
    case 'diamond': {
      const d = r * 1.3;
      ctx.moveTo(x, y - d);
      ctx.lineTo(x + d, y);
      ctx.lineTo(x, y + d);
      ctx.lineTo(x - d, y);
      ctx.closePath();
      break;
    }
    case 'triangle':
      ctx.moveTo(x, y - r * 1.2);
      ctx.lineTo(x + r * 1.1, y + r * 0.8);
      ctx.lineTo(x - r * 1.1, y + r * 0.8);
      ctx.closePath();
      break;
    default:
      ctx.rect(x - r, y - r, 2 * r, 2 * r);
  }
}
