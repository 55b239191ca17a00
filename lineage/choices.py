"""Enumerations shared by the catalog's models, forms, filters and API."""

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


# What each role may do, from least to most; a role includes the ones before it.
ROLE_RANK = {Role.VIEWER: 0, Role.CONTRIBUTOR: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


class Sensitivity(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    PII = "pii", "PII"


class DataFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"
    EXTERNAL = "external", "External reference"


class VersionSource(models.TextChoices):
    UPLOAD = "upload", "Browser upload"
    API = "api", "API"
    PIPELINE = "pipeline", "Pipeline"


class ProfileStatus(models.TextChoices):
    PENDING = "pending", "Profiling"
    SUCCEEDED = "succeeded", "Profiled"
    FAILED = "failed", "Profiling failed"
    NOT_APPLICABLE = "not_applicable", "Not stored here"


class ModelTask(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    REGRESSION = "regression", "Regression"


class Stage(models.TextChoices):
    NONE = "none", "None"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


class JobType(models.TextChoices):
    PROFILE_DATASET_VERSION = "profile_dataset_version", "Profile dataset version"
    RUN_QUALITY_SUITE = "run_quality_suite", "Run quality checks"
    RUN_DRIFT_ANALYSIS = "run_drift_analysis", "Analyse drift"


class DriftStatus(models.TextChoices):
    """A model version's drift: the decision of its latest finished drift analysis."""

    NOT_ANALYSED = "not_analysed", "Not analysed"
    NOT_DRIFTED = "not_drifted", "Not drifted"
    DRIFTED = "drifted", "Drifted"


class QualityStatus(models.TextChoices):
    """A dataset version's data quality gate: the outcome of its latest quality run."""

    NOT_CHECKED = "not_checked", "Not checked"
    PASSED = "passed", "Passed"
    WARNING = "warning", "Warning"
    FAILED = "failed", "Failed"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class NodeKind(models.TextChoices):
    DATASET = "dataset", "Dataset"
    DATASET_VERSION = "dataset_version", "Dataset version"
    PIPELINE_JOB = "job", "Job"
    PIPELINE_RUN = "run", "Run"
    MODEL_VERSION = "model_version", "Model version"
    DEPLOYMENT = "deployment", "Deployment"


class EdgeKind(models.TextChoices):
    """Edges point the way data flows: from what was used to what was made of it."""

    HAS_VERSION = "has_version", "has version"
    CONSUMED = "consumed", "consumed by"
    PRODUCED = "produced", "produced"
    TRAINED_ON = "trained_on", "trained"
    EVALUATED_ON = "evaluated_on", "evaluated"
    DERIVED_FROM = "derived_from", "derived into"
    DEPLOYED_AS = "deployed_as", "deployed as"
    RAN_AS = "ran_as", "ran as"


class RunState(models.TextChoices):
    START = "START", "Started"
    RUNNING = "RUNNING", "Running"
    COMPLETE = "COMPLETE", "Completed"
    FAIL = "FAIL", "Failed"
    ABORT = "ABORT", "Aborted"
    OTHER = "OTHER", "Other"


class ReviewState(models.TextChoices):
    PENDING = "pending", "Needs review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    STAGE_CHANGE = "stage_change", "Stage changed"
    REVIEW_REQUESTED = "review_requested", "Review requested"
    REVIEW_DECIDED = "review_decided", "Review decided"
    DATA_DESTROYED = "data_destroyed", "Data destroyed"
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOGOUT = "logout", "Signed out"


class NotificationKind(models.TextChoices):
    NEEDS_REVIEW = "needs_review", "Needs review"
    DATA_EXPIRED = "data_expired", "Data past retention"
    DATA_DESTROYED = "data_destroyed", "Data destroyed"
    REVIEW_REQUESTED = "review_requested", "Review requested"
    REVIEW_DECIDED = "review_decided", "Review decided"
    QUALITY_FAILED = "quality_failed", "Quality checks failed"
    DRIFT_DETECTED = "drift_detected", "Drift detected"
    ALERT_FIRED = "alert_fired", "Alert fired"
    ALERT_RESOLVED = "alert_resolved", "Alert resolved"
