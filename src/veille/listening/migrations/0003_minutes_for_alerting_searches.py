"""Minute counts are kept for searches with spike or dip alerts on only (ingest no longer writes
them for other searches nor for the whole workspace): the rows nothing keeps up to date any
more are removed, so they can never become a stale baseline."""

from django.db import migrations
from django.db.models import Q


def remove_unkept(apps, schema_editor):
    SavedSearch = apps.get_model("listening", "SavedSearch")
    MinuteRollup = apps.get_model("listening", "MinuteRollup")
    alerting = SavedSearch.objects.filter(Q(spike_enabled=True) | Q(dip_enabled=True)).values_list("id", flat=True)
    MinuteRollup.objects.exclude(search_id__in=list(alerting)).delete()


class Migration(migrations.Migration):
    dependencies = [("listening", "0002_storage")]
    operations = [migrations.RunPython(remove_unkept, migrations.RunPython.noop)]
