from django.apps import AppConfig


class LineageConfig(AppConfig):
    """The catalog: projects, datasets, models, their versions, and background jobs."""

    name = "lineage"
    verbose_name = "Catalog and lineage"

    def ready(self) -> None:
        from lineage import audit, signals  # noqa: F401  (connect their receivers)
