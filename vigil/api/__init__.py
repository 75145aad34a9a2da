"""HTTP API (`vigil serve`): the count and event queries over FastAPI. Import
`vigil.api.app.create_app`; this package itself stays free of FastAPI imports."""
