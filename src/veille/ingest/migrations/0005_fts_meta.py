"""SQLite: the full-text index also holds each post's sentiment and language as words.

A search filtered on them (``panne* sentiment:negative``) used to read every post the words
matched to test the filter, tens of milliseconds for a common prefix over a million posts; with
``meta`` (``snegative lfr``) FTS5 intersects both conditions itself. The table becomes
contentless (only our own queries read it, and they read ids), kept in step with the posts by
triggers on delete and on an update of text, sentiment or language (a correction).
PostgreSQL is unchanged.
"""

from django.db import migrations

# Frozen copy of veille.ingest.search.SEARCH_META_SQL at the time of this migration.
META = "'s' || COALESCE({row}.sentiment, '') || ' l' || LOWER(COALESCE({row}.language, ''))"
TOKENIZE = "tokenize='unicode61 remove_diacritics 2'"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    old, new, post = META.format(row="old"), META.format(row="new"), META.format(row="p")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS ingest_post_fts_delete")
        cursor.execute("DROP TABLE IF EXISTS ingest_post_fts")
        cursor.execute(f"CREATE VIRTUAL TABLE ingest_post_fts USING fts5(text, meta, content='', {TOKENIZE})")
        cursor.execute(f"INSERT INTO ingest_post_fts (rowid, text, meta) SELECT p.id, p.text, {post} FROM ingest_post p")
        cursor.execute(
            "CREATE TRIGGER ingest_post_fts_delete AFTER DELETE ON ingest_post BEGIN "
            f"INSERT INTO ingest_post_fts (ingest_post_fts, rowid, text, meta) VALUES ('delete', old.id, old.text, {old}); END"
        )
        cursor.execute(
            "CREATE TRIGGER ingest_post_fts_update AFTER UPDATE OF text, sentiment, language ON ingest_post BEGIN "
            f"INSERT INTO ingest_post_fts (ingest_post_fts, rowid, text, meta) VALUES ('delete', old.id, old.text, {old}); "
            f"INSERT INTO ingest_post_fts (rowid, text, meta) VALUES (new.id, new.text, {new}); END"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS ingest_post_fts_update")
        cursor.execute("DROP TRIGGER IF EXISTS ingest_post_fts_delete")
        cursor.execute("DROP TABLE IF EXISTS ingest_post_fts")
        cursor.execute(f"CREATE VIRTUAL TABLE ingest_post_fts USING fts5(text, content='ingest_post', content_rowid='id', {TOKENIZE})")
        cursor.execute("INSERT INTO ingest_post_fts (ingest_post_fts) VALUES ('rebuild')")
        cursor.execute(
            "CREATE TRIGGER ingest_post_fts_delete AFTER DELETE ON ingest_post BEGIN "
            "INSERT INTO ingest_post_fts(ingest_post_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
        )


class Migration(migrations.Migration):
    dependencies = [("ingest", "0004_one_word_index")]
    operations = [migrations.RunPython(forwards, backwards)]
