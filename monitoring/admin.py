from django.contrib import admin

from monitoring.models import (
    DriftAnalysis,
    DriftSettings,
    QualityCheckResult,
    QualityRun,
    QualitySuite,
    QualitySuiteVersion,
)


class QualitySuiteVersionInline(admin.TabularInline):
    model = QualitySuiteVersion
    extra = 0
    can_delete = False
    readonly_fields = ["version", "checks", "change_note", "created_by", "created_at"]


@admin.register(QualitySuite)
class QualitySuiteAdmin(admin.ModelAdmin):
    list_display = ["dataset", "current_version", "run_on_new_versions", "schedule_kind"]
    search_fields = ["dataset__name"]
    readonly_fields = ["current_version", "periodic_task"]
    inlines = [QualitySuiteVersionInline]


class QualityCheckResultInline(admin.TabularInline):
    model = QualityCheckResult
    extra = 0
    can_delete = False
    fields = ["position", "name", "severity", "outcome", "failing_count", "message"]
    readonly_fields = fields


@admin.register(QualityRun)
class QualityRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "dataset_version", "status", "state", "trigger", "created_at"]
    list_filter = ["status", "state", "trigger"]
    readonly_fields = [field.name for field in QualityRun._meta.fields]
    inlines = [QualityCheckResultInline]


@admin.register(DriftSettings)
class DriftSettingsAdmin(admin.ModelAdmin):
    list_display = ["model", "window_frequency", "schedule_kind", "updated_at"]
    readonly_fields = ["periodic_task"]


@admin.register(DriftAnalysis)
class DriftAnalysisAdmin(admin.ModelAdmin):
    list_display = ["pk", "model_version", "state", "drifted", "drift_share", "domain_auc"]
    list_filter = ["state", "drifted", "trigger"]
    readonly_fields = [field.name for field in DriftAnalysis._meta.fields]
