from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from veille.accounts.models import AuditEntry, Membership, User, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class VeilleUserAdmin(UserAdmin):
    inlines = [MembershipInline]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "workspace", "actor", "verb", "target"]
    list_filter = ["verb", "workspace"]
    readonly_fields = ["at", "workspace", "actor", "verb", "target", "detail"]
