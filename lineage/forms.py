"""Browser forms. Uploads and registrations hand their data to lineage.services, the same
path the API takes."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.text import slugify
from rest_framework import serializers

from lineage.api.serializers import ModelVersionMetadataSerializer, normalise_tags
from lineage.choices import Stage
from lineage.models import Dataset, DatasetVersion, Membership, Project, RegisteredModel


class TagsField(forms.CharField):
    """Tags typed as comma-separated words."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list | tuple):
            return ", ".join(getattr(tag, "name", str(tag)) for tag in value)
        return value or ""

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        try:
            return normalise_tags(text.split(","))
        except serializers.ValidationError as exc:
            raise forms.ValidationError(exc.detail[0]) from exc


class ProjectForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="Notifications for this project are also POSTed here as JSON.",
    )

    class Meta:
        model = Project
        fields = ["name", "slug", "description", "webhook_url"]
        help_texts = {"slug": "Short name used in URLs; letters, digits and hyphens."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name", ""))
        if not slug:
            raise forms.ValidationError("Give the project a name or a slug.")
        clash = Project.objects.filter(slug=slug).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"The slug '{slug}' is taken.")
        return slug


class MembershipForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership._meta.get_field("role").choices)

    def clean_username(self) -> Any:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=self.cleaned_data["username"]).first()
        if user is None:
            raise forms.ValidationError("No user has that username.")
        return user


class CatalogEntryForm(forms.ModelForm):
    """Shared by datasets and models: a project (where the user may contribute) and tags."""

    tags = TagsField(required=False, help_text="Comma-separated, e.g. fraud, transactions")

    def __init__(self, *args: Any, projects: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].help_text = "Who answers for it; you, if left empty."
        self.fields["owner"].queryset = self.fields["owner"].queryset.order_by("username")
        if self.instance.pk:
            self.fields.pop("project")
            self.initial["tags"] = list(self.instance.tags.all())
        elif projects is not None:
            self.fields["project"].queryset = projects

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        project = cleaned.get("project") or getattr(self.instance, "project", None)
        name = cleaned.get("name")
        if project and name:
            clash = type(self.instance).objects.filter(project=project, name=name)
            if clash.exclude(pk=self.instance.pk).exists():
                self.add_error("name", f"This project already has one named '{name}'.")
        return cleaned


class DatasetForm(CatalogEntryForm):
    class Meta:
        model = Dataset
        fields = [
            "project",
            "name",
            "description",
            "owner",
            "sensitivity",
            "retain_until",
            "tags",
        ]
        widgets = {"retain_until": forms.DateInput(attrs={"type": "date"})}


class RegisteredModelForm(CatalogEntryForm):
    class Meta:
        model = RegisteredModel
        fields = ["project", "name", "task", "description", "owner", "tags"]


class DatasetVersionForm(forms.Form):
    # Empty files reach the service, which refuses them with the portal's own message.
    file = forms.FileField(
        required=False, allow_empty_file=True, help_text="A .csv or .parquet file."
    )
    external_uri = forms.CharField(
        required=False,
        max_length=2000,
        label="Or an external URI",
        help_text="For data that lives elsewhere: s3://bucket/key, postgres://host:5432/db/schema.table",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if dataset.is_external:
            self.fields.pop("file")
        elif dataset.versions.exists():
            self.fields.pop("external_uri")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if bool(cleaned.get("file")) == bool(cleaned.get("external_uri")):
            raise forms.ValidationError(
                "Choose a file to upload or give an external URI (one of them)."
            )
        return cleaned


class JSONObjectField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 4, "class": "mono"})

    def clean(self, value: Any) -> dict[str, Any]:
        text = (super().clean(value) or "").strip()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
        if not isinstance(parsed, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"accuracy": 0.93}.')
        return parsed


class ModelVersionForm(forms.Form):
    artifact = forms.FileField(
        allow_empty_file=True,
        help_text="The estimator saved with skops.io.dump(model, 'model.skops').",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    training_dataset_version = forms.ModelChoiceField(
        queryset=DatasetVersion.objects.none(), required=False
    )
    evaluation_dataset_version = forms.ModelChoiceField(
        queryset=DatasetVersion.objects.none(), required=False
    )
    target_column = forms.CharField(required=False, max_length=200)
    metrics = JSONObjectField(required=False, help_text='e.g. {"roc_auc": 0.94, "f1": 0.71}')
    hyperparameters = JSONObjectField(
        required=False, help_text="Leave empty to read them from the estimator."
    )
    code_repository = forms.CharField(required=False, max_length=500, label="Code repository URL")
    code_commit = forms.CharField(required=False, max_length=100)
    python_version = forms.CharField(required=False, max_length=50)
    packages = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}),
        help_text="The training environment: paste `pip freeze` output.",
    )

    def __init__(self, *args: Any, model: RegisteredModel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        versions = DatasetVersion.objects.filter(dataset__project=model.project).select_related(
            "dataset"
        )
        for name in ("training_dataset_version", "evaluation_dataset_version"):
            self.fields[name].queryset = versions.order_by("dataset__name", "-version")

    def metadata(self) -> dict[str, Any] | None:
        """The cleaned form as the API's metadata, validated by the same serializer;
        None (with the errors attached to the form) when that refuses it."""
        data = dict(self.cleaned_data)
        data.pop("artifact")
        for name in ("training_dataset_version", "evaluation_dataset_version"):
            data[name] = data[name].pk if data.get(name) else None
        data = {key: value for key, value in data.items() if value not in ("", None, {})}
        metadata = ModelVersionMetadataSerializer(data=data)
        if not metadata.is_valid():
            for field, errors in metadata.errors.items():
                self.add_error(field if field in self.fields else None, flatten_errors(errors))
            return None
        return dict(metadata.validated_data)


def flatten_errors(errors: Any, prefix: str = "") -> list[str]:
    """DRF's nested errors (`{"roc_auc": ["A valid number is required."]}`) as sentences
    a form can show (`roc_auc: A valid number is required.`)."""
    if isinstance(errors, dict):
        return [
            message
            for key, value in errors.items()
            for message in flatten_errors(value, f"{prefix}{key}: ")
        ]
    if isinstance(errors, list):
        return [message for item in errors for message in flatten_errors(item, prefix)]
    return [f"{prefix}{errors}"]


class StageChangeForm(forms.Form):
    """Direct stage moves; production is reached through a review, so it is not offered."""

    stage = forms.ChoiceField(
        choices=[(value, label) for value, label in Stage.choices if value != Stage.PRODUCTION]
    )
    comment = forms.CharField(required=False, max_length=500)
