// Sessions in links and files. The core writes and checks a session as JSON (settings, seed,
// every command with its time, the moment shown); this module packs that text into a page
// address (deflate, then base64url) and back, and saves or opens it as a file.

const LINK_KEY = 'session';
const MAX_LINK_CHARS = 4_000_000;
const MAX_SESSION_BYTES = 2_000_000; // as the core's MAX_SESSION_BYTES

/** The session text packed for a link: 'z' + deflated base64url, or 'j' + plain base64url. */
export async function packSession(json) {
  const bytes = new TextEncoder().encode(json);
  if (typeof CompressionStream === 'function') {
    const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate-raw'));
    return `z${toBase64Url(new Uint8Array(await new Response(stream).arrayBuffer()))}`;
  }
  return `j${toBase64Url(bytes)}`;
}

/** The session text a link carries; throws an Error that says what is wrong with it. */
export async function unpackSession(packed) {
  if (packed.length > MAX_LINK_CHARS) throw new Error('the session in the link is too long');
  const kind = packed[0];
  let bytes;
  try {
    bytes = fromBase64Url(packed.slice(1));
  } catch {
    throw new Error('the session in the link is damaged (it is not base64url): was the link cut short?');
  }
  if (kind === 'z') {
    if (typeof DecompressionStream !== 'function') throw new Error('this browser cannot unpack the link (no DecompressionStream)');
    bytes = await inflate(bytes);
  } else if (kind !== 'j') {
    throw new Error('the session in the link is damaged (it should start with z or j)');
  }
  if (bytes.length > MAX_SESSION_BYTES) throw new Error(`the session is larger than ${MAX_SESSION_BYTES} bytes`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error('the session in the link is damaged (it is not text)');
  }
}

/** Inflates, stopping with an error past the size limit (a small link must not fill memory). */
async function inflate(bytes) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_SESSION_BYTES) {
        reader.cancel();
        throw new Error(`the session in the link unpacks to more than ${MAX_SESSION_BYTES} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err.message.startsWith('the session')) throw err;
    throw new Error('the session in the link is damaged (it does not unpack): was the link cut short?');
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The packed session in a page address's fragment (#session=...), or null. */
export function sessionInHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  return params.get(LINK_KEY);
}

/** A link to this page that opens `packed`. */
export function linkTo(packed, location) {
  return `${location.origin}${location.pathname}${location.search}#${LINK_KEY}=${packed}`;
}

/** Offers `json` (text, or a Blob) as a file download. */
export function saveFile(json, name) {
  const blob = json instanceof Blob ? json : new Blob([json], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The text of a file the person picked, refusing files too large to be a session. */
export async function readFile(file) {
  if (file.size > MAX_SESSION_BYTES) {
    throw new Error(`"${file.name}" is ${file.size} bytes; a session is at most ${MAX_SESSION_BYTES}`);
  }
  return file.text();
}

function toBase64Url(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
