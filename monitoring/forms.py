"""Browser forms of the quality pages. The check form is built from the check type's
parameter list in `monitoring.checks`, so the browser and the API accept the same checks
and `normalise_check` is the one judge of what is valid."""

from __future__ import annotations

import math
from typing import Any

from django import forms

from monitoring import checks
from monitoring.choices import ScheduleKind, Severity

NUMERIC_TYPES = {"integer", "float"}


def _parse_value(text: str, numeric: bool) -> Any:
    """One line of a values box: `""` is the empty string; numbers for numeric columns."""
    if text == '""':
        return ""
    if numeric:
        try:
            number = float(text)
        except ValueError:
            return text
        if math.isfinite(number) and number.is_integer() and "." not in text and "e" not in text:
            return int(number)
        return number
    return text


def _format_value(value: Any) -> str:
    return '""' if value == "" else str(value)


class CheckForm(forms.Form):
    """One check of a given type: its name, severity and the type's parameters."""

    name = forms.CharField(
        required=False, max_length=200, help_text="Leave empty for a name like range:total_value."
    )
    severity = forms.ChoiceField(
        choices=Severity.choices,
        initial=Severity.FAIL,
        help_text="Fail blocks the version (quality gate failed); warn only flags it.",
    )
    description = forms.CharField(required=False, max_length=500)

    def __init__(
        self,
        *args: Any,
        check_type: str,
        columns: list[dict[str, str]],
        initial_check: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.check_type = checks.CHECK_TYPES[check_type]
        self.column_types = {column["name"]: column["type"] for column in columns}
        if initial_check:
            kwargs.setdefault("initial", self._initial_from(initial_check))
        super().__init__(*args, **kwargs)
        known = list(self.column_types)
        for column in self._check_columns(initial_check or {}):
            if column not in known:
                known.append(column)
        column_choices = [(name, name) for name in known]
        for param in self.check_type.params:
            self.fields[param.name] = self._field_for(param, column_choices)

    @staticmethod
    def _check_columns(check: dict[str, Any]) -> list[str]:
        found = [check["column"]] if check.get("column") else []
        return found + list(check.get("columns") or [])

    def _initial_from(self, check: dict[str, Any]) -> dict[str, Any]:
        initial = dict(check)
        for param in self.check_type.params:
            value = check.get(param.name)
            if param.kind == "values" and isinstance(value, list):
                initial[param.name] = "\n".join(_format_value(item) for item in value)
        return initial

    def _field_for(self, param: Any, column_choices: list[tuple[str, str]]) -> forms.Field:
        label = param.name.replace("_", " ").capitalize()
        common: dict[str, Any] = {
            "label": label,
            "help_text": param.help,
            "required": param.required and param.kind != "boolean",
        }
        if param.default is not None and param.kind != "values":
            common["initial"] = param.default
        kind = param.kind
        if kind == "column":
            return forms.ChoiceField(choices=[("", "—"), *column_choices], **common)
        if kind == "columns":
            return forms.MultipleChoiceField(
                choices=column_choices, widget=forms.SelectMultiple(attrs={"size": 6}), **common
            )
        if kind in ("number", "fraction"):
            return forms.FloatField(**common)
        if kind == "integer":
            return forms.IntegerField(**common)
        if kind == "boolean":
            return forms.BooleanField(**common)
        if kind == "choice":
            return forms.ChoiceField(
                choices=[(choice, choice) for choice in param.choices], **common
            )
        if kind == "values":
            common["help_text"] = (
                f'{param.help} One value per line; write "" for the empty string.'
            ).strip()
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), **common)
        if kind == "expression":
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), **common)
        return forms.CharField(**common)

    def to_check(self) -> dict[str, Any]:
        """The check as a raw definition, for `checks.normalise_check`."""
        data = self.cleaned_data
        raw: dict[str, Any] = {"type": self.check_type.name, "severity": data["severity"]}
        if data.get("name"):
            raw["name"] = data["name"]
        if data.get("description"):
            raw["description"] = data["description"]
        column_type = self.column_types.get(data.get("column") or "", "")
        for param in self.check_type.params:
            value = data.get(param.name)
            if param.kind == "values":
                lines = [line.strip() for line in (value or "").splitlines()]
                value = [_parse_value(line, column_type in NUMERIC_TYPES) for line in lines if line]
            elif param.kind == "columns":
                value = list(value or [])
            elif value in (None, "") and param.kind != "boolean":
                continue
            raw[param.name] = value
        return raw

    def normalised(self) -> dict[str, Any] | None:
        """The valid check, or None with the errors added to the form (field named)."""
        if not self.is_valid():
            return None
        try:
            return checks.normalise_check(self.to_check())
        except checks.CheckDefinitionError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)
            return None


class SuiteSettingsForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    run_on_new_versions = forms.BooleanField(
        required=False, label="Check every new version as soon as it arrives"
    )
    schedule_kind = forms.ChoiceField(
        choices=ScheduleKind.choices,
        label="Also run on the latest version",
        help_text="Hourly, daily (06:00) or on a cron expression; beat picks changes up live.",
    )
    schedule_cron = forms.CharField(
        required=False,
        max_length=100,
        label="Cron expression",
        help_text="minute hour day-of-month month day-of-week, e.g. 30 2 * * 1-5",
    )
