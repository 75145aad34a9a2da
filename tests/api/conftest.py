from tests.api.apikit import filled_store  # noqa: F401  (fixture for every API test)
