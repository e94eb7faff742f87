// How the core lays out the numbers it hands the page every frame (messages in flight, drops,
// the space-time diagram's events): strides and codes, read once from the core
// (`Simulation.layout()`, in src/encode.rs) instead of being written a second time here.
// main.js calls setLayout right after the core loads; the bindings below are live, so modules
// that import them read the values whenever they draw.

/** Numbers per message in flight, per drop and per diagram event. */
export let FLIGHT_STRIDE = 0;
export let DROP_STRIDE = 0;
export let DIAGRAM_STRIDE = 0;
/** A drop's `extra` in the diagram is its kind plus this many times its reason. */
export let DROP_REASON_FACTOR = 0;
/** Codes by name: message kinds (`KIND.replicate`), drop reasons, diagram event codes, flags. */
export let KIND = {};
export let REASON = {};
export let CODE = {};
export let FLAG = {};
/** Names by code: `KIND_NAME[0]` is 'replicate', `REASON_NAME[1]` 'linkCut'. */
export let KIND_NAME = [];
export let REASON_NAME = [];

export function setLayout(layout) {
  FLIGHT_STRIDE = layout.flightStride;
  DROP_STRIDE = layout.dropStride;
  DIAGRAM_STRIDE = layout.diagramStride;
  DROP_REASON_FACTOR = layout.dropReasonFactor;
  KIND = layout.messageKinds;
  REASON = layout.dropReasons;
  CODE = layout.diagramCodes;
  FLAG = layout.flightFlags;
  KIND_NAME = byCode(KIND);
  REASON_NAME = byCode(REASON);
}

/** An array of names indexed by their codes, for lookups while drawing. */
function byCode(codes) {
  const names = [];
  for (const [name, code] of Object.entries(codes)) names[code] = name;
  return names;
}
