"""URL configuration: the composition root that wires every app's routes."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from dealers import account_views, reauth
from dealers import views as dealer_views


class FaviconRedirect(RedirectView):
    """The app's icon under its static name, looked up per request (the manifest's hashed name in production)."""

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("favicon.svg")


auth_patterns = [
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("login/code/", account_views.login_verify, name="login_verify"),
    path("login/set-up/", account_views.login_enroll, name="login_enroll"),
    path("confirm/", reauth.reauthenticate, name="reauthenticate"),
    path("security/", account_views.account_security, name="account_security"),
    path("security/set-up/", account_views.account_enroll, name="account_enroll"),
    path("security/recovery-codes/", account_views.recovery_codes_regenerate, name="recovery_codes_regenerate"),
    path("security/turn-off/", account_views.two_factor_disable, name="two_factor_disable"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/complete/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

urlpatterns = [
    # Browsers ask for /favicon.ico where a page names no icon (the admin site, files opened directly).
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
    path("accounts/", include(auth_patterns)),
    path("i18n/setlang/", dealer_views.set_language, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript_catalog"),
    path("", include("crm.ui.urls")),
    path("", include("crm.messaging.urls")),  # e-mail to prospects, e-mail templates
    path("", include("crm.campaigns.urls")),  # campaigns: selection, export, results
    path("", include("crm.quotes.urls")),  # quotes as PDF (docs/quotes.md)
    path("", include("crm.notifications.urls")),
    path("", include("crm.appointments.urls")),  # appointments, demo cars, calendar feed
    path("", include("crm.consent_links")),  # public: the signed link is the credential
    path("", include("dealers.urls")),
    path("", include("sync.urls")),
    path("api/", include("crm.api.urls")),
    path("ha/", include("ha.urls")),
    path("admin/", admin.site.urls),
]

# Unknown addresses under /api/ answer problem+json like every other API error.
handler404 = "crm.api.errors.api_not_found"
handler500 = "crm.api.errors.api_server_error"
