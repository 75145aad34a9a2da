// Cameras page: each live camera's newest analysed frame (fetched as a blob, so a slow frame never
// shows half-loaded), its tracks and geometry as an SVG overlay, and its health, refreshed.
"use strict";
const FRAME_MS = 1000, HEALTH_MS = 2000;

async function refreshCamera(section) {
  const id = section.dataset.camera, img = section.querySelector("img.frame");
  const svg = section.querySelector("svg.overlay");
  try {
    const [frame, tracks] = await Promise.all([
      fetch(`/api/cameras/${encodeURIComponent(id)}/frame.jpg`, {cache: "no-store"}),
      fetch(`/api/cameras/${encodeURIComponent(id)}/tracks`, {cache: "no-store"})]);
    if (frame.ok) {
      const url = URL.createObjectURL(await frame.blob());
      const old = img.src;
      img.src = url;
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    }
    if (tracks.ok) {
      const t = await tracks.json();
      if (t.width) drawOverlay(svg, t.width, t.height, t, t.tracks, t.detections);
      section.dataset.frame = t.frame ?? "";
      section.dataset.tracks = t.tracks.length;
      section.dataset.detections = t.detections.length;
    }
  } catch (e) { /* the server restarting: try again next tick */ }
}

async function refreshHealth() {
  try {
    const r = await fetch("/api/cameras", {cache: "no-store"});
    if (!r.ok) return;
    for (const cam of await r.json()) {
      const section = document.querySelector(`section.cam[data-camera="${CSS.escape(cam.id)}"]`);
      if (!section || !cam.health) continue;
      for (const td of section.querySelectorAll("td[data-key]")) {
        const v = cam.health[td.dataset.key];
        td.textContent = v === null || v === undefined ? "–" : v;
      }
    }
  } catch (e) { /* next tick */ }
}

const live = [...document.querySelectorAll("section.cam[data-live='1']")];
if (live.length) {
  const tick = () => Promise.all(live.map(refreshCamera)).finally(() => setTimeout(tick, FRAME_MS));
  tick();
  setInterval(refreshHealth, HEALTH_MS);
}
