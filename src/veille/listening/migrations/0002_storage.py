"""Storage tuned for the ingest hot path.

* SQLite: matches and rollups are written for every new post; as ``WITHOUT ROWID`` tables their
  rows live in the primary-key B-tree itself (one B-tree per row written instead of a rowid
  table plus a unique index). The tables are empty here, so they are simply re-created.
* PostgreSQL: a full-text index over the words of posts as the listening matcher sees them.
  PostgreSQL's default parser keeps ``panne.fibre``, ``box/optique`` or ``jean@orange.fr`` as one
  lexeme, so a search for ``fibre`` would miss posts the live matcher finds; this expression
  index splits the folded text on every non-alphanumeric character first, like the matcher (and
  like SQLite's FTS5 tokenizer, which needs nothing more).
"""

from django.db import migrations

WORDS_TSVECTOR = "to_tsvector('simple'::regconfig, regexp_replace(veille_fold(text), '[^[:alnum:]]+', ' ', 'g'))"
KEYED_TABLES = ("listening_searchmatch", "listening_hourrollup", "listening_minuterollup", "listening_authorrollup", "listening_tagrollup")


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS listening_post_words ON ingest_post USING GIN (({WORDS_TSVECTOR}))")
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
