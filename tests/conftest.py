"""One shared world of fixtures. Each family lives in tests/fixtures/<name>.py and is loaded here."""

pytest_plugins = [
    "tests.fixtures.builders",
    "tests.fixtures.sandbox",
    "tests.fixtures.amocrm",
    "tests.fixtures.sync",
    "tests.fixtures.browser",
    "tests.fixtures.console",
]
