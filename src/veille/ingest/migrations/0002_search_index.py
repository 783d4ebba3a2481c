"""Full-text index: FTS5 on SQLite, a generated tsvector column with GIN on PostgreSQL."""

from django.db import migrations

from veille.ingest.search import FOLD_FROM, FOLD_TO


def create_index(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Same folding as veille.ingest.search.fold(): lower case, accents off.
            cursor.execute(
                "CREATE OR REPLACE FUNCTION veille_fold(value text) RETURNS text "
                "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ SELECT translate(lower(value), %s, %s) $$",
                [FOLD_FROM, FOLD_TO],
            )
            cursor.execute(
                "ALTER TABLE ingest_post ADD COLUMN search_vector tsvector "
                "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, veille_fold(text))) STORED"
            )
            cursor.execute("CREATE INDEX post_search_vector ON ingest_post USING GIN (search_vector)")
        else:
            # External-content table: the text lives once, in ingest_post; rowid is the post id.
            cursor.execute(
                "CREATE VIRTUAL TABLE ingest_post_fts USING fts5("
                "text, content='ingest_post', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
            )
            # Rows are added by the pipeline in bulk; deletions (a source or workspace removed)
            # must leave the index too.
            cursor.execute(
                "CREATE TRIGGER ingest_post_fts_delete AFTER DELETE ON ingest_post BEGIN "
                "INSERT INTO ingest_post_fts(ingest_post_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
            )


def drop_index(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS post_search_vector")
            cursor.execute("ALTER TABLE ingest_post DROP COLUMN IF EXISTS search_vector")
            cursor.execute("DROP FUNCTION IF EXISTS veille_fold(text)")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS ingest_post_fts_delete")
            cursor.execute("DROP TABLE IF EXISTS ingest_post_fts")


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial")]
    operations = [migrations.RunPython(create_index, drop_index)]
