// Draws a camera's lines, zones and tracks into an <svg> whose viewBox is the frame's pixels,
// so the browser scales the drawing with the picture (no coordinates converted here).
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// The unit normal of A->B on the side that counts "in" (screen coordinates, y down).
function inNormal(a, b, side) {
  const dx = b[0] - a[0], dy = b[1] - a[1], len = Math.hypot(dx, dy) || 1;
  return side === "left" ? [dy / len, -dx / len] : [-dy / len, dx / len];
}

function drawLine(svg, line, scale) {
  const [a, b] = line.points, n = inNormal(a, b, line.in_side || "right"), k = 28 * scale;
  const shade = [a, b, [b[0] + n[0] * k, b[1] + n[1] * k], [a[0] + n[0] * k, a[1] + n[1] * k]];
  svg.append(svgEl("polygon", {points: shade.map(p => p.join(",")).join(" "), class: "in-side"}));
  svg.append(svgEl("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: "line", "marker-end": "url(#arrow)",
                            "stroke-width": 3 * scale}));
  svg.append(svgEl("text", {x: a[0] + 4 * scale, y: a[1] - 6 * scale, class: "label", "font-size": 16 * scale},
                   `${line.name} (A→B, in: ${line.in_side || "right"})`));
}

function drawZone(svg, zone, scale) {
  svg.append(svgEl("polygon", {points: zone.polygon.map(p => p.join(",")).join(" "), class: "zone",
                               "stroke-width": 2 * scale}));
  const p = zone.polygon[0];
  svg.append(svgEl("text", {x: p[0] + 4 * scale, y: p[1] + 16 * scale, class: "label", "font-size": 16 * scale},
                   zone.name));
}

// Detections dashed (what the detector saw), tracks solid with their ids (what the counter sees).
function drawBoxes(svg, boxes, scale, cls) {
  for (const t of boxes) {
    const [x1, y1, x2, y2] = t.xyxy;
    svg.append(svgEl("rect", {x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: cls,
                              "stroke-width": 2 * scale, "data-track": t.id}));
    if (cls === "box")
      svg.append(svgEl("text", {x: x1, y: y1 - 3 * scale, class: "label", "font-size": 14 * scale},
                       `${t.class} #${t.id}`));
  }
}

// Clears `svg` and draws everything; `w`, `h`: the frame's pixel size.
function drawOverlay(svg, w, h, geometry, tracks, detections) {
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.replaceChildren();
  const scale = Math.max(w, h) / 1000;
  const defs = svgEl("defs", {});
  const marker = svgEl("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 5,
                                  markerHeight: 5, orient: "auto-start-reverse"});
  marker.append(svgEl("path", {d: "M0,0 L10,5 L0,10 z", class: "arrow"}));
  defs.append(marker);
  svg.append(defs);
  for (const z of geometry.zones || []) drawZone(svg, z, scale);
  for (const l of geometry.lines || []) drawLine(svg, l, scale);
  drawBoxes(svg, detections || [], scale, "det");
  drawBoxes(svg, tracks || [], scale, "box");
}
