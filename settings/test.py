"""Settings for the test suite: the embedded defaults, made fast and deterministic."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="console-test-"))

from settings.base import *  # noqa: E402,F403
from settings.base import Q_CLUSTER, REST_FRAMEWORK  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
Q_CLUSTER["sync"] = os.environ.get("Q_SYNC", "true").lower() in {"1", "true", "yes"}
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"storefront": "10000/min"}
LANGUAGE_CODE = "en"
AMOCRM_RATE_LIMIT = float(os.environ.get("AMOCRM_RATE_LIMIT", "50"))

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the live server's threads (browser and webhook tests) then get connections of their
    # own instead of sharing the test thread's one.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(os.environ["DATA_DIR"], "test.sqlite3")}  # noqa: F405
