"""PostgreSQL: one full-text index over the words of posts, shared by search and listening.

The first schema kept a generated ``tsvector`` column with its own GIN index for the search
page, and listening added a second GIN index over the same text split on every non-alphanumeric
character (as its live matcher and SQLite's FTS5 tokenizer split it). Every insert computed and
indexed the words twice and stored them once more in the row. Now a single expression index,
the listening one, serves both. SQLite is unchanged (FTS5).
"""

from django.db import migrations

# Frozen copy of veille.ingest.search.WORDS_TSVECTOR at the time of this migration.
WORDS_TSVECTOR = "to_tsvector('simple'::regconfig, regexp_replace(veille_fold(text), '[^[:alnum:]]+', ' ', 'g'))"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS post_search_vector")
    schema_editor.execute("ALTER TABLE ingest_post DROP COLUMN IF EXISTS search_vector")
    schema_editor.execute("DROP INDEX IF EXISTS listening_post_words")
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS post_words ON ingest_post USING GIN (({WORDS_TSVECTOR}))")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS post_words")
    schema_editor.execute(
        "ALTER TABLE ingest_post ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, veille_fold(text))) STORED"
    )
    schema_editor.execute("CREATE INDEX post_search_vector ON ingest_post USING GIN (search_vector)")


class Migration(migrations.Migration):
    dependencies = [("ingest", "0003_rawitem_dead_index"), ("listening", "0002_storage")]
    operations = [migrations.RunPython(forwards, backwards)]
