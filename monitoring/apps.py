from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Data quality (check suites, runs, the quality gate), drift analyses, and serving
    with its prediction log, dashboards, alerts and health."""

    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from lineage import profiling
        from lineage.choices import JobType
        from lineage.permissions import VISIBLE_JOB_TARGETS
        from lineage.tasks import register_job_type
        from monitoring import drift_runs, services, signals  # noqa: F401  (connect receivers)
        from monitoring.models import DriftAnalysis, QualityRun
        from monitoring.permissions import visible_analyses, visible_runs

        register_job_type(
            JobType.RUN_QUALITY_SUITE,
            services.execute_quality_run,
            on_failure=services.mark_quality_run_failed,
            on_retry=services.mark_quality_run_queued,
            user_facing_errors=(profiling.DataFileError, services.QualityError),
        )
        VISIBLE_JOB_TARGETS[QualityRun] = visible_runs
        register_job_type(
            JobType.RUN_DRIFT_ANALYSIS,
            drift_runs.execute_drift_analysis,
            on_failure=drift_runs.mark_drift_analysis_failed,
            on_retry=drift_runs.mark_drift_analysis_queued,
            user_facing_errors=(profiling.DataFileError, drift_runs.DriftError),
        )
        VISIBLE_JOB_TARGETS[DriftAnalysis] = visible_analyses
        from monitoring import heartbeat, prediction_inputs  # noqa: F401  (heartbeat: signals)
        from monitoring.choices import CurrentSource

        drift_runs.CURRENT_READERS[CurrentSource.PREDICTIONS] = prediction_inputs.READER
