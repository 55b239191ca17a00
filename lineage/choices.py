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


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
