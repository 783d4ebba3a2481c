"""Storage tuned for the ingest hot path.

* SQLite: matches and rollups are written for every new post; as ``WITHOUT ROWID`` tables their
  rows live in the primary-key B-tree itself (one B-tree per row written instead of a rowid
  table plus a unique index). The tables are empty here, so they are simply re-created.
* PostgreSQL: this migration used to add a words index for listening; ingest migration 0004
  now makes one such index (split on every non-alphanumeric character, as the matcher splits)
  serve search and listening alike.
"""

from django.db import migrations

KEYED_TABLES = ("listening_searchmatch", "listening_hourrollup", "listening_minuterollup", "listening_authorrollup", "listening_tagrollup")


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        # Superseded by ingest migration 0004, which makes this the one words index of posts
        # (``post_words``); a database migrated before keeps it until then.
        return
    with connection.cursor() as cursor:
        for table in KEYED_TABLES:
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [table])
            statement = cursor.fetchone()[0]
            if "WITHOUT ROWID" in statement.upper():
                continue
            cursor.execute(f'DROP TABLE "{table}"')
            cursor.execute(statement + " WITHOUT ROWID")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS listening_post_words")


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("listening", "0001_initial"), ("ingest", "0002_search_index")]
    operations = [migrations.RunPython(create, drop)]
