"""Match rows hold their key only: (search, post).

They were written with copies of the post's time, author, sentiment and language, about one row
per post at ingest; the few readers (event mode, filling alert minutes, recomputing a rollup)
join the post by its primary key instead. ``DROP COLUMN`` keeps SQLite's ``WITHOUT ROWID``
table as it is (Django's own way would rebuild it without). Going back restores the columns
from the posts.
"""

from django.db import migrations

COPIED = ("created_at", "author_id", "sentiment", "language")


def drop_copies(apps, schema_editor):
    for column in COPIED:
        schema_editor.execute(f"ALTER TABLE listening_searchmatch DROP COLUMN {column}")


def restore_copies(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    types = {"created_at": "timestamp with time zone" if postgres else "datetime", "author_id": "bigint",
             "sentiment": "varchar(10)", "language": "varchar(8)"}
    defaults = {"created_at": "'1970-01-01 00:00:00'", "author_id": "0", "sentiment": "''", "language": "''"}
    for column in COPIED:
        schema_editor.execute(
            f"ALTER TABLE listening_searchmatch ADD COLUMN {column} {types[column]} NOT NULL DEFAULT {defaults[column]}")
    schema_editor.execute(
        "UPDATE listening_searchmatch SET created_at = p.created_at, author_id = p.author_id, sentiment = p.sentiment, "
        "language = p.language FROM ingest_post p WHERE p.id = listening_searchmatch.post_id")


class Migration(migrations.Migration):
    dependencies = [("listening", "0003_minutes_for_alerting_searches")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField("searchmatch", column) for column in COPIED],
            database_operations=[migrations.RunPython(drop_copies, restore_copies)],
        ),
    ]
