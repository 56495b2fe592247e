"""dealers.forms.bound_form: the one way pages of every app bind their form to a POST."""

from __future__ import annotations

from django import forms
from django.test import RequestFactory

from dealers.forms import bound_form


class NameForm(forms.Form):
    name = forms.CharField()

    def __init__(self, *args: object, greeting: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.greeting = greeting


def test_a_get_shows_the_unbound_form_with_its_initial_values() -> None:
    form = bound_form(RequestFactory().get("/?name=ignored"), NameForm, initial={"name": "Anna"}, greeting="Hallo")
    assert not form.is_bound
    assert not form.is_valid()  # so `if form.is_valid():` alone means a valid POST
    assert form["name"].value() == "Anna"
    assert form.greeting == "Hallo"


def test_a_post_binds_the_posted_data() -> None:
    form = bound_form(RequestFactory().post("/", {"name": "Berta"}), NameForm, initial={"name": "Anna"})
    assert form.is_bound
    assert form.is_valid()
    assert form.cleaned_data == {"name": "Berta"}


def test_an_invalid_post_keeps_its_errors() -> None:
    form = bound_form(RequestFactory().post("/", {}), NameForm)
    assert not form.is_valid()
    assert "name" in form.errors
