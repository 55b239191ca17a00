from django.contrib import admin

from lineage.models import (
    AuditEntry,
    Dataset,
    DatasetVersion,
    Job,
    Membership,
    ModelVersion,
    Project,
    RegisteredModel,
    StageTransition,
    Tag,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role"]
    list_filter = ["role", "project"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "sensitivity", "owner", "retain_until", "updated_at"]
    list_filter = ["sensitivity", "project"]
    search_fields = ["name", "description", "namespace", "source_name"]
    autocomplete_fields = ["tags"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: the admin shows them read-only."""

    list_display = ["dataset", "version", "format", "row_count", "profile_status", "created_at"]
    list_filter = ["format", "profile_status", "source"]
    search_fields = ["dataset__name", "sha256"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [field.name for field in self.model._meta.fields] if obj else []


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "task", "owner", "updated_at"]
    list_filter = ["task", "project"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["tags"]


class StageTransitionInline(admin.TabularInline):
    model = StageTransition
    extra = 0
    can_delete = False
    readonly_fields = ["from_stage", "to_stage", "changed_by", "changed_at", "comment"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["model", "version", "stage", "estimator_class", "created_at"]
    list_filter = ["stage", "framework"]
    search_fields = ["model__name", "artifact_sha256"]
    inlines = [StageTransitionInline]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [field.name for field in self.model._meta.fields] if obj else []


@admin.register(StageTransition)
class StageTransitionAdmin(admin.ModelAdmin):
    list_display = ["model_version", "from_stage", "to_stage", "changed_by", "changed_at"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "job_type", "state", "progress", "project", "created_at", "finished_at"]
    list_filter = ["state", "job_type"]
    readonly_fields = ["created_at", "started_at", "finished_at"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log is append-only: the admin reads it and can neither add, change nor
    delete an entry."""

    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "project"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "object_id"]
    date_hierarchy = "at"
    list_select_related = ["project"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
