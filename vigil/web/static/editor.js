// Line/zone editor: clicks on the picture become points in the video's pixels; the drawing is
// shown with the same overlay as the cameras page and checked by the server's config models.
"use strict";
const img = document.getElementById("picture"), svg = document.getElementById("drawing");
const stage = document.querySelector(".stage.editor");
const state = {geometry: JSON.parse(document.getElementById("geometry").textContent), pending: [], side: "right"};
const $ = (id) => document.getElementById(id);

function nextName(prefix) {
  const used = new Set([...state.geometry.lines, ...state.geometry.zones].map(s => s.name));
  let i = 1;
  while (used.has(prefix + i)) i++;
  return prefix + i;
}

function redraw() {
  if (!img.naturalWidth) return;
  const g = {lines: [...state.geometry.lines], zones: [...state.geometry.zones]};
  drawOverlay(svg, img.naturalWidth, img.naturalHeight, g, []);
  const scale = Math.max(img.naturalWidth, img.naturalHeight) / 1000;
  if (state.pending.length > 1)
    svg.append(svgEl("polyline", {points: state.pending.map(p => p.join(",")).join(" "), class: "pending",
                                  "stroke-width": 2 * scale}));
  for (const p of state.pending)
    svg.append(svgEl("circle", {cx: p[0], cy: p[1], r: 5 * scale, class: "point"}));
}

// Where a click lands in the video's pixels (the picture is scaled to the page).
function toPixels(ev) {
  const box = img.getBoundingClientRect();
  const x = (ev.clientX - box.left) * img.naturalWidth / box.width;
  const y = (ev.clientY - box.top) * img.naturalHeight / box.height;
  return [Math.round(Math.min(Math.max(x, 0), img.naturalWidth)),
          Math.round(Math.min(Math.max(y, 0), img.naturalHeight))];
}

function finish() {
  const name = $("name").value.trim() || nextName($("mode").value);
  if ($("mode").value === "line" && state.pending.length === 2) {
    state.geometry.lines = state.geometry.lines.filter(l => l.name !== name);
    state.geometry.lines.push({name, points: state.pending, in_side: state.side});
  } else if ($("mode").value === "zone" && state.pending.length >= 3) {
    state.geometry.zones = state.geometry.zones.filter(z => z.name !== name);
    state.geometry.zones.push({name, polygon: state.pending});
  } else return;
  state.pending = [];
  $("name").value = nextName($("mode").value);
  redraw();
}

svg.addEventListener("click", (ev) => {
  state.pending.push(toPixels(ev));
  if ($("mode").value === "line" && state.pending.length === 2) finish();
  else redraw();
});
svg.addEventListener("mousemove", (ev) => {
  const [x, y] = toPixels(ev);
  $("cursor").textContent = `x ${x}, y ${y} (of ${img.naturalWidth}×${img.naturalHeight})`;
});
$("mode").addEventListener("change", () => { state.pending = []; $("name").value = nextName($("mode").value); redraw(); });
$("finish").addEventListener("click", finish);
$("undo").addEventListener("click", () => { state.pending.pop(); redraw(); });
$("clear").addEventListener("click", () => { state.geometry = {lines: [], zones: []}; state.pending = []; redraw(); });
// Flips the last line drawn (or the side the next line gets when none is drawn yet).
$("flip").addEventListener("click", () => {
  const last = state.geometry.lines[state.geometry.lines.length - 1];
  if (last) {
    last.in_side = last.in_side === "left" ? "right" : "left";
    delete last.in_direction;  // flipped by hand: the side is now what counts
  }
  else state.side = state.side === "left" ? "right" : "left";
  redraw();
});

async function post(url) {
  const body = {camera: stage.dataset.camera, ...state.geometry};
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                              body: JSON.stringify(body)});
  const answer = await r.json();
  const err = $("editor-error");
  if (r.ok) { err.hidden = true; $("yaml").textContent = answer.yaml; }
  else {
    err.textContent = typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail);
    err.hidden = false;
    $("yaml").textContent = "";
  }
  return answer;
}
$("validate").addEventListener("click", () => post("/api/editor/yaml"));
if ($("save")) $("save").addEventListener("click", () => post("/api/editor/save"));

img.addEventListener("load", redraw);
if (img.complete) redraw();
img.addEventListener("error", () => {
  const err = $("editor-error");
  err.textContent = "no frame for this camera yet: the daemon has not analysed one, or its source is not a file";
  err.hidden = false;
});
$("name").value = nextName("line");
