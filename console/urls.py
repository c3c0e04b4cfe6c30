from django.contrib import admin
from django.urls import include, path

from groups.views import account

urlpatterns = [
    path("login/", account.login, name="login"),
    path("logout/", account.logout, name="logout"),
    path("account/password/", account.password_change, name="password_change"),
    path("account/password/done/", account.password_change_done, name="password_change_done"),
    path("account/token/", account.api_token, name="api_token"),
    path("account/preferences/", account.preferences, name="preferences"),
    # Before admin's own, which they replace.
    path("admin/login/", account.admin_login),
    path("admin/logout/", account.logout),
    path("admin/", admin.site.urls),
    path("", include("groups.urls")),
]

handler403 = "groups.views.errors.forbidden"
handler404 = "groups.views.errors.not_found"
handler500 = "groups.views.errors.server_error"
