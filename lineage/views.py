"""Catalog pages. Thin: querysets and filters from lineage.filtersets, writes through
lineage.services, permissions from lineage.permissions (the API's rules)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lineage import charts, governance, services
from lineage.api.serializers import set_tags
from lineage.choices import DriftStatus, QualityStatus, ReviewState, Role
from lineage.filtersets import DatasetFilterSet, JobFilterSet, RegisteredModelFilterSet
from lineage.forms import (
    DatasetForm,
    DatasetVersionForm,
    MembershipForm,
    ModelVersionForm,
    ProjectForm,
    RegisteredModelForm,
    StageChangeForm,
)
from lineage.models import (
    Dataset,
    DatasetVersion,
    Job,
    Membership,
    ModelVersion,
    Project,
    RegisteredModel,
    StageTransition,
)
from lineage.permissions import (
    can_administer,
    can_contribute,
    can_see_dataset,
    visible_dataset_versions,
    visible_datasets,
    visible_jobs,
    visible_profile,
    visible_projects,
)
from lineage.propagation import classify

PAGE_SIZE = 25


def _page(request: HttpRequest, queryset: QuerySet[Any]) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied("Your role in this project does not allow this.")


def _contributable_projects(user: Any) -> QuerySet[Project]:
    projects = visible_projects(user)
    if user.is_superuser:
        return projects
    return projects.filter(
        memberships__user=user, memberships__role__in=[Role.CONTRIBUTOR, Role.REVIEWER, Role.ADMIN]
    )


def _jobs_for(target: Any) -> QuerySet[Job]:
    return Job.objects.for_target(target).select_related("created_by")


# Home and projects -----------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    from monitoring.serving_views import production_health  # monitoring builds on lineage

    projects = visible_projects(request.user).with_counts()
    recent_versions = (
        visible_dataset_versions(request.user)
        .select_related("dataset__project", "created_by")
        .defer("profile", "schema")
        .order_by("-created_at")[:8]
    )
    # The quality gate's latest refusals: data nobody should train on as it is.
    failing_versions = (
        visible_dataset_versions(request.user)
        .filter(quality_status=QualityStatus.FAILED)
        .select_related("dataset__project")
        .defer("profile", "schema")
        .order_by("-quality_checked_at")[:5]
    )
    drifting_models = (
        ModelVersion.objects.filter(model__project__in=projects, drift_status=DriftStatus.DRIFTED)
        .select_related("model__project")
        .order_by("-drift_checked_at")[:5]
    )
    recent_models = (
        ModelVersion.objects.filter(model__project__in=projects)
        .select_related("model__project", "created_by")
        .order_by("-created_at")[:8]
    )
    recent_jobs = (
        visible_jobs(request.user)
        .select_related("project", "target_type")
        .prefetch_related("target")
        .order_by("-created_at")[:8]
    )
    return render(
        request,
        "lineage/home.html",
        {
            "production_health": production_health(request.user),
            "projects": projects,
            "recent_versions": recent_versions,
            "failing_versions": failing_versions,
            "drifting_models": drifting_models,
            "recent_models": recent_models,
            "recent_jobs": recent_jobs,
        },
    )


def project_list(request: HttpRequest) -> HttpResponse:
    projects = visible_projects(request.user).with_counts()
    return render(request, "lineage/project_list.html", {"page": _page(request, projects)})


def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            project = form.save(commit=False)
            project.created_by = request.user
            project.save()
            Membership.objects.create(project=project, user=request.user, role=Role.ADMIN)
        messages.success(request, f"Project {project.name} created; you are its admin.")
        return redirect(project)
    return render(
        request,
        "lineage/form.html",
        {"form": form, "title": "New project", "cancel_url": reverse("project-list")},
    )


def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(visible_projects(request.user), slug=slug)
    datasets = (
        visible_datasets(request.user)
        .filter(project=project)
        .select_related("owner")
        .prefetch_related("tags")
        .with_version_summary()
    )
    models = project.models.select_related("owner").with_version_summary()
    return render(
        request,
        "lineage/project_detail.html",
        {
            "project": project,
            "datasets": datasets,
            "models": models,
            "memberships": project.memberships.select_related("user"),
            "jobs": project.jobs.select_related("target_type").prefetch_related("target")[:10],
            "member_form": MembershipForm(),
            "can_contribute": can_contribute(request.user, project),
            "can_administer": can_administer(request.user, project),
            "my_role": project.role_of(request.user),
        },
    )


def project_edit(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(visible_projects(request.user), slug=slug)
    _require(can_administer(request.user, project))
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        project = form.save()
        messages.success(request, "Project saved.")
        return redirect(project)
    return render(
        request,
        "lineage/form.html",
        {
            "form": form,
            "title": f"Edit {project.name}",
            "project": project,
            "cancel_url": project.get_absolute_url(),
        },
    )


@require_POST
def project_members(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(visible_projects(request.user), slug=slug)
    _require(can_administer(request.user, project))
    form = MembershipForm(request.POST)
    if form.is_valid():
        Membership.objects.update_or_create(
            project=project,
            user=form.cleaned_data["username"],
            defaults={"role": form.cleaned_data["role"]},
        )
        messages.success(
            request, f"{form.cleaned_data['username']} is now {form.cleaned_data['role']}."
        )
    else:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect(project)


# Datasets --------------------------------------------------------------------------------


def dataset_list(request: HttpRequest) -> HttpResponse:
    queryset = (
        visible_datasets(request.user)
        .select_related("project", "owner")
        .prefetch_related("tags")
        .with_version_summary()
        .order_by("-updated_at")
    )
    filterset = DatasetFilterSet(request.GET, queryset=queryset)
    return render(
        request,
        "lineage/dataset_list.html",
        {"filter": filterset, "page": _page(request, filterset.qs)},
    )


def _save_catalog_entry(form: Any, request: HttpRequest) -> Any:
    with transaction.atomic():
        entry = form.save(commit=False)
        if entry.owner_id is None:
            entry.owner = request.user
        entry.save()
        set_tags(entry, form.cleaned_data.get("tags", []))
    return entry


def dataset_create(request: HttpRequest) -> HttpResponse:
    projects = _contributable_projects(request.user)
    form = DatasetForm(
        request.POST or None,
        projects=projects,
        initial={"project": projects.filter(slug=request.GET.get("project")).first()},
    )
    if request.method == "POST" and form.is_valid():
        dataset = _save_catalog_entry(form, request)
        messages.success(request, f"Dataset {dataset.name} created. Upload its first version.")
        return redirect("dataset-version-create", dataset.pk)
    return render(
        request,
        "lineage/form.html",
        {"form": form, "title": "New dataset", "cancel_url": reverse("dataset-list")},
    )


def _visible_dataset(request: HttpRequest, pk: int) -> Dataset:
    return get_object_or_404(
        visible_datasets(request.user).select_related("project", "owner").prefetch_related("tags"),
        pk=pk,
    )


def dataset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _visible_dataset(request, pk)
    _require(can_contribute(request.user, dataset.project))
    form = DatasetForm(request.POST or None, instance=dataset)
    if request.method == "POST" and form.is_valid():
        _save_catalog_entry(form, request)
        messages.success(request, "Dataset saved.")
        return redirect(dataset)
    return render(
        request,
        "lineage/form.html",
        {
            "form": form,
            "title": f"Edit {dataset.name}",
            "cancel_url": dataset.get_absolute_url(),
            "project": dataset.project,
            "dataset": dataset,
        },
    )


def _profile_context(version: DatasetVersion | None, user: Any) -> dict[str, Any]:
    profile = visible_profile(version.profile, version.dataset, user) if version else None
    if not profile:
        return {"column_charts": [], "null_chart": None}
    column_charts = [
        {"column": column, "figure": charts.column_figure(column), "id": f"column-{index}"}
        for index, column in enumerate(profile.get("columns", []))
    ]
    return {"column_charts": column_charts, "null_chart": charts.null_rate_figure(profile)}


def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _visible_dataset(request, pk)
    versions = dataset.versions.select_related("created_by").defer("profile")
    latest = dataset.versions.order_by("-version").first()
    return render(
        request,
        "lineage/dataset_detail.html",
        {
            "dataset": dataset,
            "project": dataset.project,
            "versions": versions,
            "version": latest,
            "jobs": _jobs_for(latest)[:5] if latest else [],
            "trained_models": ModelVersion.objects.filter(training_dataset_version__dataset=dataset)
            .select_related("model", "training_dataset_version")
            .order_by("-created_at")[:20],
            "can_contribute": can_contribute(request.user, dataset.project),
            "classification": classify(dataset, request.user),
            **_profile_context(latest, request.user),
        },
    )


def dataset_version_create(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _visible_dataset(request, pk)
    _require(can_contribute(request.user, dataset.project))
    form = DatasetVersionForm(request.POST or None, request.FILES or None, dataset=dataset)
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data.get("file"):
                version = services.create_dataset_version_from_upload(
                    dataset,
                    form.cleaned_data["file"],
                    user=request.user,
                    description=form.cleaned_data["description"],
                )
                messages.success(
                    request, f"Version {version.version} uploaded; profiling has started."
                )
            else:
                version = services.create_external_dataset_version(
                    dataset,
                    form.cleaned_data["external_uri"],
                    user=request.user,
                    source="upload",
                    description=form.cleaned_data["description"],
                )
                messages.success(request, f"Version {version.version} recorded.")
            return redirect(version)
        except services.CatalogError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return render(
        request,
        "lineage/form.html",
        {
            "form": form,
            "title": f"New version of {dataset.name}",
            "project": dataset.project,
            "dataset": dataset,
            "cancel_url": dataset.get_absolute_url(),
            "multipart": True,
            "submit_label": "Upload",
        },
    )


def _visible_dataset_version(request: HttpRequest, pk: int, version: int) -> DatasetVersion:
    return get_object_or_404(
        visible_dataset_versions(request.user).select_related("dataset__project", "created_by"),
        dataset_id=pk,
        version=version,
    )


def dataset_version_detail(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    dataset_version = _visible_dataset_version(request, pk, version)
    dataset = dataset_version.dataset
    return render(
        request,
        "lineage/dataset_version_detail.html",
        {
            "dataset": dataset,
            "project": dataset.project,
            "version": dataset_version,
            "jobs": _jobs_for(dataset_version)[:10],
            "trained_models": dataset_version.trained_model_versions.select_related("model"),
            "can_contribute": can_contribute(request.user, dataset.project),
            "can_administer": can_administer(request.user, dataset.project),
            "classification": classify(dataset_version, request.user),
            **_profile_context(dataset_version, request.user),
        },
    )


@require_POST
def dataset_version_reprofile(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    dataset_version = _visible_dataset_version(request, pk, version)
    _require(can_contribute(request.user, dataset_version.dataset.project))
    if not dataset_version.file:
        raise Http404("This version has no stored file.")
    services.reprofile(dataset_version, request.user)
    messages.success(request, "Profiling started again.")
    return redirect(dataset_version)


def dataset_version_download(request: HttpRequest, pk: int, version: int) -> FileResponse:
    dataset_version = _visible_dataset_version(request, pk, version)
    if not dataset_version.file:
        raise Http404("This version has no stored file.")
    extension = "parquet" if dataset_version.format == "parquet" else "csv"
    return FileResponse(
        dataset_version.file.open("rb"),
        as_attachment=True,
        filename=f"{dataset_version.dataset.name}-v{dataset_version.version}.{extension}",
    )


# Models ----------------------------------------------------------------------------------


def model_list(request: HttpRequest) -> HttpResponse:
    queryset = (
        RegisteredModel.objects.filter(project__in=visible_projects(request.user))
        .select_related("project", "owner")
        .prefetch_related("tags")
        .with_version_summary()
        .order_by("-updated_at")
    )
    filterset = RegisteredModelFilterSet(request.GET, queryset=queryset)
    return render(
        request,
        "lineage/model_list.html",
        {"filter": filterset, "page": _page(request, filterset.qs)},
    )


def model_create(request: HttpRequest) -> HttpResponse:
    projects = _contributable_projects(request.user)
    form = RegisteredModelForm(
        request.POST or None,
        projects=projects,
        initial={"project": projects.filter(slug=request.GET.get("project")).first()},
    )
    if request.method == "POST" and form.is_valid():
        model = _save_catalog_entry(form, request)
        messages.success(request, f"Model {model.name} created. Register its first version.")
        return redirect("model-version-create", model.pk)
    return render(
        request,
        "lineage/form.html",
        {"form": form, "title": "New model", "cancel_url": reverse("model-list")},
    )


def _visible_model(request: HttpRequest, pk: int) -> RegisteredModel:
    return get_object_or_404(
        RegisteredModel.objects.select_related("project", "owner").prefetch_related("tags"),
        pk=pk,
        project__in=visible_projects(request.user),
    )


def model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    model = _visible_model(request, pk)
    _require(can_contribute(request.user, model.project))
    form = RegisteredModelForm(request.POST or None, instance=model)
    if request.method == "POST" and form.is_valid():
        if "task" in form.changed_data and model.versions.exists():
            form.add_error("task", "The task cannot change once the model has versions.")
        else:
            _save_catalog_entry(form, request)
            messages.success(request, "Model saved.")
            return redirect(model)
    return render(
        request,
        "lineage/form.html",
        {
            "form": form,
            "title": f"Edit {model.name}",
            "project": model.project,
            "model": model,
            "cancel_url": model.get_absolute_url(),
        },
    )


def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model = _visible_model(request, pk)
    versions = list(
        model.versions.select_related("created_by", "training_dataset_version__dataset")
    )
    production = next((v for v in versions if v.stage == "production"), None)
    metric_names = sorted({name for v in versions for name in (v.metrics or {})})
    return render(
        request,
        "lineage/model_detail.html",
        {
            "model": model,
            "project": model.project,
            "versions": versions,
            "production": production,
            "metric_names": metric_names,
            "metrics_chart": charts.metric_history_figure((v.version, v.metrics) for v in versions),
            "can_contribute": can_contribute(request.user, model.project),
        },
    )


def model_version_create(request: HttpRequest, pk: int) -> HttpResponse:
    model = _visible_model(request, pk)
    _require(can_contribute(request.user, model.project))
    form = ModelVersionForm(request.POST or None, request.FILES or None, model=model)
    if request.method == "POST" and form.is_valid():
        metadata = form.metadata()
        if metadata is not None:
            try:
                version = services.register_model_version(
                    model, form.cleaned_data["artifact"], metadata, user=request.user
                )
                messages.success(request, f"Version {version.version} registered.")
                return redirect(version)
            except services.CatalogError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return render(
        request,
        "lineage/form.html",
        {
            "form": form,
            "title": f"Register a version of {model.name}",
            "project": model.project,
            "model": model,
            "cancel_url": model.get_absolute_url(),
            "multipart": True,
            "submit_label": "Register",
        },
    )


def _visible_model_version(request: HttpRequest, pk: int, version: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related(
            "model__project",
            "created_by",
            "produced_by_run__job",
            "training_dataset_version__dataset",
            "evaluation_dataset_version__dataset",
        ).prefetch_related(
            Prefetch(
                "stage_transitions", queryset=StageTransition.objects.select_related("changed_by")
            )
        ),
        model_id=pk,
        version=version,
        model__project__in=visible_projects(request.user),
    )


def model_version_detail(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    model_version = _visible_model_version(request, pk, version)
    project = model_version.model.project
    # Reviews and their checklists (which name the data) are for project members.
    is_member = project.role_of(request.user) is not None
    reviews = (
        list(model_version.reviews.select_related("requested_by", "reviewer")) if is_member else []
    )
    pending = next((review for review in reviews if review.state == ReviewState.PENDING), None)
    training = model_version.training_dataset_version
    evaluation = model_version.evaluation_dataset_version
    return render(
        request,
        "lineage/model_version_detail.html",
        {
            "model": model_version.model,
            "project": project,
            "version": model_version,
            "packages": sorted((model_version.packages or {}).items()),
            "stage_form": StageChangeForm(
                initial={"stage": model_version.stage}
                if model_version.stage != "production"
                else {"stage": "archived"}
            ),
            "can_contribute": can_contribute(request.user, project),
            "can_administer": can_administer(request.user, project),
            # Names of data the user may not see stay hidden, even as training data.
            "training_visible": training is None or can_see_dataset(request.user, training.dataset),
            "evaluation_visible": evaluation is None
            or can_see_dataset(request.user, evaluation.dataset),
            "classification": classify(model_version, request.user),
            "pending_review": pending,
            "past_reviews": [review for review in reviews if review is not pending],
            "can_decide": pending is not None
            and pending.requested_by_id != request.user.pk
            and project.has_role(request.user, Role.REVIEWER),
            "is_requester": pending is not None and pending.requested_by_id == request.user.pk,
        },
    )


@require_POST
def model_version_stage(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    model_version = _visible_model_version(request, pk, version)
    _require(can_contribute(request.user, model_version.model.project))
    form = StageChangeForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Choose staging, archived or none; production needs an approved review."
        )
        return redirect(model_version)
    try:
        governance.change_stage(
            model_version, form.cleaned_data["stage"], request.user, form.cleaned_data["comment"]
        )
        messages.success(request, f"Version {version} is now {model_version.get_stage_display()}.")
    except governance.GovernanceError as exc:
        messages.error(request, exc.message)
    return redirect(model_version)


# Jobs ------------------------------------------------------------------------------------


def job_list(request: HttpRequest) -> HttpResponse:
    queryset = (
        visible_jobs(request.user)
        .select_related("project", "target_type", "created_by")
        .prefetch_related("target")
        .order_by("-created_at")
    )
    filterset = JobFilterSet(request.GET, queryset=queryset)
    return render(
        request,
        "lineage/job_list.html",
        {"filter": filterset, "page": _page(request, filterset.qs)},
    )


def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(
        visible_jobs(request.user).select_related("project", "created_by"),
        pk=pk,
    )
    return render(
        request,
        "lineage/job_detail.html",
        {
            "job": job,
            "project": job.project,
            "can_contribute": can_contribute(request.user, job.project),
        },
    )


@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(visible_jobs(request.user), pk=pk)
    _require(can_contribute(request.user, job.project))
    if services.retry_job(job):
        messages.success(request, "The job is queued again.")
    else:
        messages.error(request, "Only a failed job can be retried.")
    return redirect(job)
