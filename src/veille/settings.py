"""Django settings, all read from the environment through strict helpers (``veille.env``)."""

from __future__ import annotations

import os
from pathlib import Path

from veille.env import (
    SettingError,
    env_bool,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    sqlite_database,
)

PACKAGE_DIR = Path(__file__).resolve().parent
# Where the embedded deployment keeps its database, secret key and media: ``var/`` under the
# current directory unless told otherwise.
VAR_DIR = Path(env_str("VEILLE_VAR_DIR", str(Path.cwd() / "var"))).resolve()
# Files derived from installed packages (the language model's tables unpacked), kept between runs.
CACHE_DIR = Path(env_str("VEILLE_CACHE_DIR", str(VAR_DIR / "cache"))).resolve()


def _secret_key() -> str:
    configured = os.environ.get("VEILLE_SECRET_KEY", "")
    if configured:
        if len(configured) < 32:
            raise SettingError("VEILLE_SECRET_KEY must be at least 32 characters long")
        return configured
    # Embedded default: a random key generated once and kept beside the database, so sessions
    # and encrypted credentials survive restarts without anyone choosing a key.
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    import secrets

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("VEILLE_DEBUG", False)
ALLOWED_HOSTS = env_list("VEILLE_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("VEILLE_CSRF_TRUSTED_ORIGINS", [])

_database_url = os.environ.get("VEILLE_DATABASE_URL", "")
if _database_url:
    _default_db = parse_database_url("VEILLE_DATABASE_URL", _database_url)
else:
    _default_db = sqlite_database(str(VAR_DIR / "veille.sqlite3"))
if _default_db["ENGINE"].endswith("sqlite3"):
    # Tests on SQLite use a file (not :memory:) so worker subprocesses can open the same database.
    _default_db["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Serves its Swagger UI from the package's own static files (no CDN).
    "ninja",
    "veille.accounts",
    "veille.sources",
    "veille.ingest",
    "veille.nlp",
    "veille.listening",
    "veille.care",
    "veille.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "veille.accounts.middleware.WorkspaceMiddleware",
    "veille.web.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "veille.urls"
WSGI_APPLICATION = "veille.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "stream"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "veille.accounts.context.workspace",
            ],
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = env_str("VEILLE_LANGUAGE", "fr")
LANGUAGES = [("fr", "Français"), ("en", "English"), ("de", "Deutsch"), ("it", "Italiano")]
if LANGUAGE_CODE not in {code for code, _ in LANGUAGES}:
    raise SettingError(f"VEILLE_LANGUAGE={LANGUAGE_CODE!r} is not one of fr, en, de, it")
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("VEILLE_TIME_ZONE", "Europe/Zurich")
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("VEILLE_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Login throttling: this many failures for one account or one address within the window lock
# further attempts until the window passes.
VEILLE_LOGIN_MAX_FAILURES = env_int("VEILLE_LOGIN_MAX_FAILURES", 5, minimum=1)
VEILLE_LOGIN_WINDOW_S = env_int("VEILLE_LOGIN_WINDOW_S", 900, minimum=10)

# Pipeline tuning.
VEILLE_INGEST_BATCH = env_int("VEILLE_INGEST_BATCH", 1000, minimum=1, maximum=20000)
VEILLE_INGEST_LEASE_S = env_int("VEILLE_INGEST_LEASE_S", 60, minimum=5)
VEILLE_INGEST_MAX_ATTEMPTS = env_int("VEILLE_INGEST_MAX_ATTEMPTS", 5, minimum=1)
VEILLE_ENRICH = env_bool("VEILLE_ENRICH", True)
VEILLE_DEMO = env_bool("VEILLE_DEMO", True)
VEILLE_DEMO_RATE_PER_MIN = env_int("VEILLE_DEMO_RATE_PER_MIN", 40, minimum=1, maximum=100000)
VEILLE_WEB_THREADS = env_int("VEILLE_WEB_THREADS", 32, minimum=2, maximum=1024)

EMAIL_BACKEND = env_str("VEILLE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "veille": {"handlers": ["console"], "level": env_str("VEILLE_LOG_LEVEL", "INFO")},
    },
}
