"""PostgreSQL: posts are indexed by their words, each pair of adjacent words, sentiment and language.

The ``post_words`` expression index knew which words a post holds, not where: a phrase query
(``"reseau mobile"``) read every post holding both words and re-checked it, seconds over a
million posts when two common words are seldom adjacent. A ``words`` column now holds a post's
folded words and its adjacent pairs (``'reseau' 'mobile' '~reseau mobile'``; the tilde keeps
pairs out of a prefix search's way), without positions: a phrase is an AND of pairs, answered
by the GIN index alone. Sentiment and language are lexemes too (``'s:negative' 'l:fr'``):
``tech* sentiment:negative`` used to read every post holding a word starting with "tech" to
test its sentiment. The writer fills the column (the
ingest pipeline computes it where posts are prepared, ``veille.ingest.search.index_words``);
a trigger fills it for any other insert and recomputes it when a post's text, sentiment or
language is corrected, with ``veille_words()``, its SQL twin. SQLite is unchanged (FTS5 keeps
positions, and its ``meta`` column holds sentiment and language since migration 0005).
"""

from django.db import migrations

# veille_words(text, sentiment, language): what veille.ingest.search.index_words() computes, in SQL.
VEILLE_WORDS = r"""
CREATE OR REPLACE FUNCTION veille_words(body text, sentiment text, language text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(array_to_tsvector(ARRAY(
      SELECT lexeme FROM (
        SELECT words[i] AS lexeme FROM generate_subscripts(words, 1) AS i
        UNION
        SELECT '~' || words[i] || ' ' || words[i + 1] FROM generate_subscripts(words, 1) AS i WHERE i < cardinality(words)
      ) AS lexemes WHERE octet_length(lexeme) < 2047
      UNION
      SELECT kind || value FROM (VALUES ('s:', COALESCE(sentiment, '')), ('l:', lower(COALESCE(language, ''))))
        AS meta (kind, value) WHERE value ~ '^[a-z0-9]+$'
  )), ''::tsvector)
  FROM (SELECT ARRAY(
      SELECT word FROM regexp_split_to_table(veille_fold(COALESCE(body, '')), '[^[:alnum:]]+') AS word WHERE word <> ''
  ) AS words) AS split
$$
"""

TRIGGER = """
CREATE OR REPLACE FUNCTION ingest_post_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.words IS NULL THEN
      NEW.words := veille_words(NEW.text, NEW.sentiment, NEW.language);
    END IF;
  ELSIF (NEW.text, NEW.sentiment, NEW.language) IS DISTINCT FROM (OLD.text, OLD.sentiment, OLD.language) THEN
    NEW.words := veille_words(NEW.text, NEW.sentiment, NEW.language);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ingest_post_words BEFORE INSERT OR UPDATE OF text, sentiment, language ON ingest_post
  FOR EACH ROW EXECUTE FUNCTION ingest_post_words();
"""

# The expression of migration 0004's index, to restore it when going back.
OLD_WORDS_TSVECTOR = "to_tsvector('simple'::regconfig, regexp_replace(veille_fold(text), '[^[:alnum:]]+', ' ', 'g'))"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(VEILLE_WORDS)
    schema_editor.execute("ALTER TABLE ingest_post ADD COLUMN IF NOT EXISTS words tsvector")
    schema_editor.execute("UPDATE ingest_post SET words = veille_words(text, sentiment, language)")
    schema_editor.execute(TRIGGER)
    schema_editor.execute("DROP INDEX IF EXISTS post_words")
    schema_editor.execute("CREATE INDEX post_words ON ingest_post USING GIN (words)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS post_words")
    schema_editor.execute("DROP TRIGGER IF EXISTS ingest_post_words ON ingest_post")
    schema_editor.execute("DROP FUNCTION IF EXISTS ingest_post_words()")
    schema_editor.execute("ALTER TABLE ingest_post DROP COLUMN IF EXISTS words")
    schema_editor.execute("DROP FUNCTION IF EXISTS veille_words(text, text, text)")
    schema_editor.execute(f"CREATE INDEX post_words ON ingest_post USING GIN (({OLD_WORDS_TSVECTOR}))")


class Migration(migrations.Migration):
    dependencies = [("ingest", "0005_fts_meta")]
    operations = [migrations.RunPython(forwards, backwards)]
