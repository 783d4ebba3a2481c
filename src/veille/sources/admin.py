from django.contrib import admin

from veille.sources.models import Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "workspace", "status", "last_sync_at"]
    list_filter = ["platform", "status", "workspace"]
    # Credentials never appear in the admin: they are set through the source pages only.
    exclude = ["credentials_encrypted", "cursor"]
