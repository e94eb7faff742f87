// Pictures of the stage for slides: a PNG of what the canvases show, and an SVG drawn by the
// page's own drawing code through a canvas-like context that writes SVG.

import { FONT } from './palette.js';

/**
 * The stage as an SVG document (text), for slides that scale: the cluster (and its twin, side
 * by side), the space-time diagram if shown, and a caption, all as shapes and text. The drawing
 * code is the page's own, given a canvas-like context that writes SVG (svgcanvas, loaded only
 * when asked for).
 */
export async function vectorPicture(doc, app) {
  let Context;
  try {
    ({ Context } = await import('./vendor/svgcanvas.js'));
  } catch {
    throw new Error('the SVG library (www/vendor/svgcanvas.js) is missing: build the page with scripts/build.sh');
  }
  const core = app.core;
  const views = [{ view: app.view, label: app.comparison.view ? 'A · this run' : null }];
  if (app.comparison.view) {
    views.push({ view: app.comparison.view, core: app.comparison.twin, label: doc.getElementById('label-b').textContent });
  }
  const gap = 12;
  const caption = 28;
  const sizes = views.map(({ view }) => ({ w: view.width * view.zoom, h: view.height * view.zoom }));
  const clusterW = sizes.reduce((sum, s) => sum + s.w, 0) + gap * (views.length - 1);
  const clusterH = Math.max(...sizes.map((s) => s.h));
  const diagram = app.diagram;
  const withDiagram = !doc.getElementById('diagram-wrap').hidden && diagram.width > 0;
  const width = Math.ceil(Math.max(clusterW, withDiagram ? diagram.width * diagram.zoom : 0));
  const height = Math.ceil(clusterH + (withDiagram ? gap + diagram.height * diagram.zoom : 0) + caption);
  const measure = doc.createElement('canvas').getContext('2d');
  const ctx = new Context({ width, height, ctx: measure });
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  let x = 0;
  views.forEach(({ view, core: other, label }, i) => {
    ctx.save();
    ctx.translate(x, 0);
    ctx.scale(view.zoom, view.zoom);
    view.renderVector(ctx, (other ?? core).flights(app.vt), performance.now());
    ctx.restore();
    if (label) {
      ctx.fillStyle = '#14181f';
      ctx.font = `700 15px ${FONT}`;
      ctx.textBaseline = 'bottom';
      ctx.fillText(label, x + 10, clusterH - 8);
    }
    x += sizes[i].w + gap;
  });
  if (withDiagram) {
    ctx.save();
    ctx.translate(0, clusterH + gap);
    ctx.scale(diagram.zoom, diagram.zoom);
    diagram.renderVector(ctx, app.vt, app.nodes);
    ctx.restore();
  }
  const label = pictureCaption(core);
  ctx.fillStyle = '#5a6270';
  ctx.font = `14px ${FONT}`;
  ctx.textBaseline = 'middle';
  ctx.fillText(label.text, 10, height - caption / 2);
  return { text: xmlSafe(ctx.getSerializedSvg()), name: `${label.name}.svg` };
}

/**
 * XML 1.0 cannot hold control characters (but tab and newlines), U+FFFE, U+FFFF or unpaired
 * surrogates, even escaped, and a key may contain them: each becomes U+FFFD, so that the file
 * stays an SVG any viewer opens.
 */
function xmlSafe(text) {
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A picture's caption (the seed and the moment) and its file name without the extension. */
function pictureCaption(core) {
  const seed = core.settings().seed;
  const now = (core.now() / 1000).toFixed(3);
  return { text: `converge · seed ${seed} · t = ${now} s`, name: `converge-seed${seed}-at-${now}s` };
}

/**
 * A PNG of what the stage shows: the cluster drawing and, if shown, the space-time diagram under
 * it, on white, with a caption naming the seed and the moment (for a slide).
 */
export async function picture(doc, core) {
  const cluster = doc.getElementById('cluster');
  const diagram = doc.getElementById('diagram');
  const withDiagram = !doc.getElementById('diagram-wrap').hidden && diagram.width > 0;
  const ratio = cluster.width / Math.max(1, cluster.clientWidth);
  const caption = Math.round(28 * ratio);
  const gap = withDiagram ? Math.round(8 * ratio) : 0;
  const out = doc.createElement('canvas');
  out.width = Math.max(cluster.width, withDiagram ? diagram.width : 0);
  out.height = cluster.height + gap + (withDiagram ? diagram.height : 0) + caption;
  const g = out.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, out.width, out.height);
  g.drawImage(cluster, 0, 0);
  if (withDiagram) g.drawImage(diagram, 0, cluster.height + gap);
  const label = pictureCaption(core);
  g.fillStyle = '#5a6270';
  g.font = `${Math.round(14 * ratio)}px system-ui, sans-serif`;
  g.textBaseline = 'middle';
  g.fillText(label.text, Math.round(10 * ratio), out.height - caption / 2);
  const blob = await new Promise((resolve, reject) => {
    out.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser made no image'))), 'image/png');
  });
  return { blob, name: `${label.name}.png` };
}
