"""The web dashboard: server-rendered pages (Jinja2) and small vanilla-JS files, every asset
shipped in this package (no CDN), mounted on the API's FastAPI app by `vigil serve` (store only)
and `vigil run --http` (store plus the daemon's live frames, tracks and health)."""
