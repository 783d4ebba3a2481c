from django.contrib import admin

from veille.ingest.models import Author, Post, RawItem


@admin.register(RawItem)
class RawItemAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "format", "status", "line", "attempts", "received_at"]
    list_filter = ["status", "format", "source"]
    search_fields = ["external_id", "error"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "author", "created_at", "language", "sentiment"]
    list_filter = ["source", "language", "sentiment"]
    raw_id_fields = ["author", "reply_to", "thread_root", "raw_item"]


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["handle", "platform", "name", "followers"]
    search_fields = ["handle", "name"]
